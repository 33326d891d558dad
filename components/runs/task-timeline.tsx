"use client";
import type { TaskRunView } from "@/lib/contracts/dashboard";
import { useNow } from "@/hooks/use-now";
import { formatDuration } from "@/components/ui/time-format";

const STATE_VAR: Record<string, string> = {
  COMPLETED: "var(--color-st-completed)",
  RUNNING: "var(--color-st-running)",
  PENDING: "var(--color-st-pending)",
  FAILED: "var(--color-st-failed)",
  CANCELLED: "var(--color-st-cancelled)",
};

/** A small Gantt chart: each task run's start and end on the run's time axis. */
export function TaskTimeline({ tasks }: { tasks: TaskRunView[] }) {
  const now = useNow(tasks.some((t) => t.state === "RUNNING") ? 500 : 0);
  const spans = tasks.map((t) => {
    const start = t.startedAt ? Date.parse(t.startedAt) : null;
    const end = t.endedAt ? Date.parse(t.endedAt) : t.state === "RUNNING" && start !== null ? Math.max(now, start) : start;
    return { t, start, end };
  });
  const started = spans.filter((s) => s.start !== null);
  if (!started.length) {
    return (
      <section className="card p-5" aria-labelledby="timeline-title" data-testid="timeline">
        <h2 id="timeline-title" className="section-title">
          Timeline
        </h2>
        <p className="mt-2 text-sm text-faint">Nothing has started yet.</p>
      </section>
    );
  }
  const t0 = Math.min(...started.map((s) => s.start!));
  const t1 = Math.max(...started.map((s) => s.end ?? s.start!), t0 + 1);
  const span = t1 - t0;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <section className="card p-5" aria-labelledby="timeline-title" data-testid="timeline">
      <h2 id="timeline-title" className="section-title">
        Timeline
      </h2>
      <div className="mt-3 grid grid-cols-[6.5rem_minmax(0,1fr)] gap-x-3 gap-y-1.5 text-xs sm:grid-cols-[11rem_minmax(0,1fr)]">
        {spans.map(({ t, start, end }) => {
          const left = start === null ? 0 : ((start - t0) / span) * 100;
          const width = start === null || end === null ? 0 : Math.max(((end - start) / span) * 100, 0.6);
          return (
            <div key={t.id} className="contents" data-testid="timeline-row">
              <span className="mono truncate text-muted" title={t.name}>
                {t.name}
              </span>
              <div className="relative h-4 rounded-sm bg-[#151232]">
                {start !== null ? (
                  <div
                    className={`absolute top-0.5 bottom-0.5 rounded-sm ${t.state === "RUNNING" ? "pulse" : ""}`}
                    style={{
                      left: `${left}%`,
                      width: `${width}%`,
                      background: STATE_VAR[t.state],
                      boxShadow: `0 0 8px ${STATE_VAR[t.state]}`,
                      ["--c" as string]: STATE_VAR[t.state],
                    }}
                    title={`${t.name}: ${t.state}, ${formatDuration(end !== null ? end - start : null)}`}
                  />
                ) : (
                  <span className="absolute inset-0 flex items-center pl-1 text-[0.65rem] text-faint">{t.state.toLowerCase()}</span>
                )}
              </div>
            </div>
          );
        })}
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
