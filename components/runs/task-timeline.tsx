"use client";
import type { TaskRunView } from "@/lib/contracts/dashboard";
import { useNow } from "@/hooks/use-now";
import { formatDuration } from "@/components/ui/time-format";
import { assignLanes, laneToleranceMs } from "./timeline-lanes";

const STATE_VAR: Record<string, string> = {
  COMPLETED: "var(--color-st-completed)",
  RUNNING: "var(--color-st-running)",
  PENDING: "var(--color-st-pending)",
  FAILED: "var(--color-st-failed)",
  CANCELLED: "var(--color-st-cancelled)",
};

/**
 * Beyond this many lanes (a wide map), lanes are drawn as thin strips in a scrolling box
 * without per-row labels, so 200 parallel tasks stay one screen tall; each bar keeps its name.
 */
export const COMPACT_AFTER_LANES = 12;

interface Bar {
  t: TaskRunView;
  start: number;
  end: number;
  lane: number;
}

/**
 * A small Gantt chart: each task run's start and end on the run's time axis, task runs that
 * overlap (submitted, mapped) on parallel lanes (timeline-lanes.ts); task runs not started yet
 * are listed after the lanes.
 */
export function TaskTimeline({ tasks }: { tasks: TaskRunView[] }) {
  const now = useNow(tasks.some((t) => t.state === "RUNNING") ? 500 : 0);
  const starts = tasks.map((t) => (t.startedAt ? Date.parse(t.startedAt) : null));
  const ends = tasks.map((t) => (t.endedAt ? Date.parse(t.endedAt) : null));
  // Drawn up to now while running, as before lanes.
  const drawnEnd = (t: TaskRunView, i: number, start: number) => ends[i] ?? (t.state === "RUNNING" ? Math.max(now, start) : start);
  const drawn = tasks.flatMap((t, i) => (starts[i] === null ? [] : [{ start: starts[i]!, end: drawnEnd(t, i, starts[i]!) }]));
  const t0 = Math.min(...drawn.map((b) => b.start));
  const t1 = Math.max(...drawn.map((b) => b.end), t0 + 1);
  const span = t1 - t0;
  // A running task holds its lane until it ends (whatever this browser's clock says): end null.
  const layout = assignLanes(
    tasks.map((t, i) => ({ start: starts[i], end: ends[i] ?? (t.state === "RUNNING" ? null : starts[i]) })),
    laneToleranceMs(span),
  );
  const bars: Bar[] = [];
  const unstarted: TaskRunView[] = [];
  tasks.forEach((t, i) => {
    const start = starts[i];
    const lane = layout.lanes[i];
    if (start === null || lane === null) return void unstarted.push(t);
    bars.push({ t, start, end: drawnEnd(t, i, start), lane });
  });
  if (!bars.length) {
    return (
      <section className="card p-5" aria-labelledby="timeline-title" data-testid="timeline" data-lanes={0}>
        <h2 id="timeline-title" className="section-title">
          Timeline
        </h2>
        <p className="mt-2 text-sm text-faint">Nothing has started yet.</p>
      </section>
    );
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const byLane: Bar[][] = Array.from({ length: layout.count }, () => []);
  for (const b of bars) byLane[b.lane].push(b);
  const compact = layout.count > COMPACT_AFTER_LANES;
  const grid = "grid grid-cols-[6.5rem_minmax(0,1fr)] gap-x-3 text-xs sm:grid-cols-[11rem_minmax(0,1fr)]";
  return (
    <section className="card p-5" aria-labelledby="timeline-title" data-testid="timeline" data-lanes={layout.count} data-compact={compact ? "true" : "false"}>
      <h2 id="timeline-title" className="section-title">
        Timeline
        {layout.count > 1 ? <span className="ml-2 font-normal tracking-normal normal-case text-faint">· {layout.count} parallel lanes</span> : null}
      </h2>
      {compact ? (
        <div className={`mt-3 ${grid}`}>
          <span className="pt-0.5 text-faint">{layout.count} lanes</span>
          {/* Focusable: a scrolling region must be reachable from the keyboard. */}
          <div className="max-h-72 space-y-px overflow-y-auto rounded-sm" tabIndex={0} role="group" aria-label={`Timeline, ${layout.count} parallel lanes`} data-testid="timeline-lanes">
            {byLane.map((lane, i) => (
              <Lane key={i} index={i} bars={lane} t0={t0} span={span} compact />
            ))}
          </div>
        </div>
      ) : (
        <div className={`mt-3 gap-y-1.5 ${grid}`} data-testid="timeline-lanes">
          {byLane.map((lane, i) => (
            <div key={i} className="contents">
              <LaneLabel bars={lane} />
              <Lane index={i} bars={lane} t0={t0} span={span} compact={false} />
            </div>
          ))}
        </div>
      )}
      <div className={`mt-1.5 gap-y-1.5 ${grid}`}>
        {unstarted.map((t) => (
          <div key={t.id} className="contents" data-testid="timeline-unstarted" data-task-name={t.name}>
            <span className="mono truncate text-muted" title={t.name}>
              {t.name}
            </span>
            <div className="relative h-4 rounded-sm bg-[#151232]">
              <span className="absolute inset-0 flex items-center pl-1 text-[0.65rem] text-faint">{t.state.toLowerCase()}</span>
            </div>
          </div>
        ))}
        <span />
        <div className="mono relative h-4 text-[0.65rem] text-faint" aria-hidden="true">
          {ticks.map((f) => (
            <span
              key={f}
              className={`absolute top-0 whitespace-nowrap ${f === 0.25 || f === 0.75 ? "max-sm:hidden" : ""}`}
              style={{ left: `${f * 100}%`, transform: f === 0 ? "none" : f === 1 ? "translateX(-100%)" : "translateX(-50%)" }}
            >
              {formatDuration(span * f)}
            </span>
          ))}
        </div>
      </div>
    </section>
  );
}

/** A lane's label: the names of its tasks (one name for a lane of one mapped task). */
function LaneLabel({ bars }: { bars: Bar[] }) {
  const names = [...new Set(bars.map((b) => b.t.name))].join(", ");
  return (
    <span className="mono truncate text-muted" title={names} aria-hidden="true">
      {names}
    </span>
  );
}

function Lane({ index, bars, t0, span, compact }: { index: number; bars: Bar[]; t0: number; span: number; compact: boolean }) {
  return (
    <div
      className={`relative rounded-sm bg-[#151232] ${compact ? "h-1.5" : "h-4"}`}
      role="group"
      aria-label={`Lane ${index + 1}`}
      data-testid="timeline-lane"
      data-lane={index}
    >
      {bars.map(({ t, start, end }) => {
        const left = ((start - t0) / span) * 100;
        const width = Math.max(((end - start) / span) * 100, 0.6);
        const label = `${t.name}: ${t.state}, ${formatDuration(end - start)}${t.attempt > 1 ? `, attempt ${t.attempt}` : ""}`;
        return (
          <div
            key={t.id}
            role="img"
            aria-label={label}
            title={label}
            className={`absolute overflow-hidden rounded-sm border-x border-[#151232] ${compact ? "inset-y-0" : "top-0.5 bottom-0.5"} ${t.state === "RUNNING" ? "pulse" : ""}`}
            style={{
              left: `${left}%`,
              width: `${width}%`,
              background: STATE_VAR[t.state],
              boxShadow: compact ? undefined : `0 0 8px ${STATE_VAR[t.state]}`,
              ["--c" as string]: STATE_VAR[t.state],
            }}
            data-testid="timeline-bar"
            data-lane={index}
            data-task-id={t.id}
            data-task-name={t.name}
            data-state={t.state}
          />
        );
      })}
    </div>
  );
}
