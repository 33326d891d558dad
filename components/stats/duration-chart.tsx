"use client";
import { useCallback, useMemo } from "react";
import type uPlot from "uplot";
import type { TaskStatView } from "@/lib/contracts/dashboard";
import { formatDuration } from "@/components/ui/time-format";
import { levelSeries, pointSeries, UplotChart, type ChartTheme } from "@/components/charts/uplot-chart";

/** A `#rrggbb` colour at this opacity (any other notation is returned as it is: opaque). */
function withAlpha(colour: string, alpha: number): string {
  return /^#[0-9a-f]{6}$/i.test(colour) ? `${colour}${Math.round(alpha * 255).toString(16).padStart(2, "0")}` : colour;
}

/** How a duration compares with the task's thresholds (the colour its dot takes). */
export function durationLevel(stat: Pick<TaskStatView, "slowAtMs" | "criticalAtMs">, v: number): "normal" | "slow" | "critical" {
  if (stat.criticalAtMs !== null && v >= stat.criticalAtMs) return "critical";
  if (stat.slowAtMs !== null && v >= stat.slowAtMs) return "slow";
  return "normal";
}

/** The chart's text alternative: what it shows, in one sentence. */
export function durationChartSummary(stat: TaskStatView): string {
  const over = stat.recentMs.filter((v) => durationLevel(stat, v) !== "normal").length;
  return `${stat.recentMs.length} recent durations of ${stat.taskName}: mean ${formatDuration(stat.meanMs)}${
    stat.slowAtMs !== null ? `, SLOW at ${formatDuration(stat.slowAtMs)}` : ", no threshold yet (fewer than 5 samples)"
  }${stat.criticalAtMs !== null ? `, CRITICAL at ${formatDuration(stat.criticalAtMs)}` : ""}${
    stat.slowAtMs !== null ? `; ${over} over a threshold` : ""
  }.`;
}

/**
 * Recent durations (oldest → newest) as dots joined by a faint line, with the mean and the SLOW /
 * CRITICAL thresholds as horizontal lines; durations over a threshold take that threshold's
 * colour. Drawn by uPlot; the caption (visually hidden) is the text alternative.
 */
export function DurationChart({ stat, height = 64, className = "w-60", axes = false }: { stat: TaskStatView; height?: number; className?: string; axes?: boolean }) {
  const data = useMemo<uPlot.AlignedData>(() => {
    const ys = stat.recentMs;
    const xs = ys.map((_, i) => i);
    const only = (level: ReturnType<typeof durationLevel>) => ys.map((v) => (durationLevel(stat, v) === level ? v : null));
    const cols: (number | null)[][] = [ys, ys.map(() => stat.meanMs)];
    if (stat.slowAtMs !== null) cols.push(ys.map(() => stat.slowAtMs));
    if (stat.criticalAtMs !== null) cols.push(ys.map(() => stat.criticalAtMs));
    cols.push(only("normal"), only("slow"), only("critical"));
    return [xs, ...cols] as uPlot.AlignedData;
  }, [stat]);

  const options = useCallback(
    (t: ChartTheme) => {
      const lines = [stat.meanMs, stat.slowAtMs, stat.criticalAtMs].filter((v): v is number => v !== null);
      const hi = Math.max(...stat.recentMs, ...lines, 1) * 1.08;
      const lo = Math.max(Math.min(...stat.recentMs, stat.meanMs) * 0.85, 0);
      const series: uPlot.Series[] = [
        {},
        { label: "recent durations", stroke: withAlpha(t.accent, 0.45), width: 1.2, points: { show: false } },
        levelSeries(`mean ${formatDuration(stat.meanMs)}`, t.magenta),
      ];
      if (stat.slowAtMs !== null) series.push(levelSeries(`SLOW ≥ ${formatDuration(stat.slowAtMs)}`, t.slow, [4, 3]));
      if (stat.criticalAtMs !== null) series.push(levelSeries(`CRITICAL ≥ ${formatDuration(stat.criticalAtMs)}`, t.critical, [4, 3]));
      const dot = stat.recentMs.length > 60 ? 3 : 4;
      series.push(pointSeries("normal", t.accent, dot), pointSeries("slow", t.slow, dot), pointSeries("critical", t.critical, dot));
      return {
        series,
        legend: { show: false },
        cursor: { show: false },
        padding: axes ? ([8, 8, 6, 0] as uPlot.Padding) : ([6, 4, 6, 4] as uPlot.Padding),
        scales: { x: { time: false, range: (_u: uPlot, min: number, max: number) => (min === max ? [min - 1, max + 1] : [min, max]) as uPlot.Range.MinMax }, y: { range: [lo, hi] as uPlot.Range.MinMax } },
        axes: axes
          ? [
              { show: false },
              { stroke: t.muted, grid: { stroke: t.line, width: 1 }, ticks: { show: false }, size: 64, font: "11px ui-monospace, monospace", values: (_u: uPlot, v: number[]) => v.map((x) => formatDuration(x)) },
            ]
          : [{ show: false }, { show: false }],
      };
    },
    [stat, axes],
  );

  const summary = durationChartSummary(stat);
  return (
    <figure
      className="m-0"
      data-testid="stats-chart"
      data-points={stat.recentMs.length}
      data-mean-ms={stat.meanMs}
      data-slow-ms={stat.slowAtMs ?? ""}
      data-critical-ms={stat.criticalAtMs ?? ""}
    >
      <UplotChart options={options} data={data} height={height} className={`${className} overflow-hidden rounded-md border border-line bg-[#0b0a20]`} testId="chart-canvas" />
      <figcaption className="sr-only" data-testid="chart-summary">
        {summary}
      </figcaption>
    </figure>
  );
}

export function ChartLegend() {
  const item = (colour: string, text: string, dashed = false) => (
    <span className="flex items-center gap-1.5">
      <span aria-hidden="true" className="inline-block w-[18px] border-t-2" style={{ borderColor: colour, borderTopStyle: dashed ? "dashed" : "solid" }} />
      {text}
    </span>
  );
  return (
    <div className="flex flex-wrap gap-4 text-xs text-muted">
      {item("var(--color-accent)", "recent durations (oldest → newest)")}
      {item("var(--color-magenta)", "mean")}
      {item("var(--color-st-slow)", "SLOW threshold", true)}
      {item("var(--color-st-critical)", "CRITICAL threshold", true)}
    </div>
  );
}
