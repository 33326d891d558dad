"use client";
/**
 * A flow's runs over time: x = when the run was created, y = how long it ran, each dot in its
 * state's colour. Clicking a dot opens that run. The text alternative is a table of the same
 * runs, visually hidden until a keyboard user tabs into it (each run is a link there), so the
 * chart's content is reachable without a pointer.
 */
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useMemo, useRef } from "react";
import type uPlot from "uplot";
import type { FlowRunPointView } from "@/lib/contracts/dashboard";
import { RUN_STATES, type RunState } from "@/lib/domain/states";
import { formatDateTime, formatDuration, formatUtc } from "@/components/ui/time-format";
import { pointSeries, themedAxis, UplotChart, type ChartTheme } from "./uplot-chart";

const created = (r: FlowRunPointView): number | null => {
  const iso = r.createdAt ?? r.startedAt;
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : null;
};

export function RunsChart({ runs, caption, height = 200 }: { runs: FlowRunPointView[]; caption: string; height?: number }) {
  const router = useRouter();
  // The runs the chart places, in x order (uPlot wants ascending x).
  const placed = useMemo(
    () =>
      runs
        .map((r) => ({ run: r, t: created(r) }))
        .filter((p): p is { run: FlowRunPointView; t: number } => p.t !== null)
        .sort((a, b) => a.t - b.t),
    [runs],
  );
  const states = useMemo(() => RUN_STATES.filter((s) => placed.some((p) => p.run.state === s)), [placed]);
  const data = useMemo<uPlot.AlignedData>(
    () => [placed.map((p) => p.t / 1000), ...states.map((s) => placed.map((p) => (p.run.state === s ? p.run.durationMs : null)))] as uPlot.AlignedData,
    [placed, states],
  );
  // The click handler reads the latest runs and router without remaking the plot.
  const pick = useRef<(i: number) => void>(() => {});
  useEffect(() => {
    pick.current = (i) => {
      const id = placed[i]?.run.id;
      if (id) router.push(`/runs/${encodeURIComponent(id)}`);
    };
  }, [placed, router]);

  const options = useCallback(
    (t: ChartTheme) => ({
      series: [{}, ...states.map((s: RunState) => pointSeries(s, t.state[s], 8))],
      legend: { show: false },
      // No drag-zoom; and a click that uPlot counts as the end of a drag (the pointer's last
      // recorded position differs from the press) must still open the run, not be swallowed.
      cursor: { drag: { x: false, y: false, setScale: false, click: () => {} }, points: { size: 12, fill: "transparent" } },
      padding: [12, 12, 0, 0] as uPlot.Padding,
      scales: {
        x: { time: true, range: (_u: uPlot, min: number, max: number) => (min === max ? [min - 60, max + 60] : [min, max]) as uPlot.Range.MinMax },
        y: { range: (_u: uPlot, _min: number, max: number) => [0, Math.max(max, 1) * 1.1] as uPlot.Range.MinMax },
      },
      axes: [themedAxis(t), themedAxis(t, { size: 70, values: (_u: uPlot, v: number[]) => v.map((x) => formatDuration(x)) })],
      hooks: {
        ready: [
          (u: uPlot) => {
            u.over.style.cursor = "pointer";
            // The run nearest the pointer along x (from the event itself, not the cursor's last position).
            u.over.addEventListener("click", (e: MouseEvent) => {
              const left = e.clientX - u.over.getBoundingClientRect().left;
              const i = u.posToIdx(left);
              if (Number.isInteger(i) && i >= 0) pick.current(i);
            });
          },
        ],
      },
    }),
    [states],
  );

  return (
    <figure className="m-0" data-testid="flow-runs-chart" data-points={placed.filter((p) => p.run.durationMs !== null).length}>
      <UplotChart options={options} data={data} height={height} className="w-full" testId="chart-canvas" />
      <div className="mt-2 flex flex-wrap gap-4 text-xs text-muted" aria-hidden="true">
        {states.map((s) => (
          <span key={s} className={`st-${s} flex items-center gap-1.5`}>
            <span className="badge-dot" />
            {s.toLowerCase()}
          </span>
        ))}
      </div>
      <figcaption className="sr-only" data-testid="flow-runs-chart-caption">
        {caption}
      </figcaption>
      {/* A table ignores `width: 1px`, so the wrapper is what is visually hidden (until focus is inside). */}
      <div className="sr-only focus-within:not-sr-only focus-within:mt-3 focus-within:block" data-testid="flow-runs-table">
        <div className="table-wrap">
          <table className="data-table">
            <caption className="sr-only">Runs in the chart, oldest first (each links to its run)</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {placed.map(({ run }) => (
                <tr key={run.id} data-testid="flow-runs-table-row" data-run-id={run.id} data-state={run.state}>
                  <td>
                    <Link href={`/runs/${encodeURIComponent(run.id)}`} className="mono" data-testid="flow-runs-table-link">
                      #{run.id}
                    </Link>
                  </td>
                  <td>{run.state}</td>
                  <td className="mono" title={formatUtc(run.createdAt)}>
                    {formatDateTime(run.createdAt)}
                  </td>
                  <td className="mono" data-testid="flow-runs-table-duration">
                    {run.durationMs === null ? (run.state === "RUNNING" || run.state === "PENDING" ? "not finished" : "—") : formatDuration(run.durationMs)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </figure>
  );
}
