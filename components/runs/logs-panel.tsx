"use client";
/**
 * Live logs with task and level filters. Every line the hook fetched is held, but only the rows
 * in (and near) the viewport are in the DOM (@tanstack/react-virtual, rows measured as rendered
 * since long lines wrap), so a run with 100,000 lines scrolls like one with 100. Follows the tail
 * (auto-scroll) unless the reader has scrolled up; then a button offers to jump back to the newest
 * line and counts the lines that arrived meanwhile.
 */
import { useLayoutEffect, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { TaskRunView } from "@/lib/contracts/dashboard";
import { LOG_LEVELS, type LogLevel } from "@/lib/domain/states";
import { useRunLogs } from "@/hooks/use-run-logs";
import { formatClockMs } from "@/components/ui/time-format";
import { showBidiControls } from "@/lib/text/bidi";

/** A one-line row: leading-5 (20px) + py-0.5 (4px) + the 1px border. Wrapped rows are measured. */
const ROW_ESTIMATE = 25;
const LEVEL_CLASS: Record<LogLevel, string> = {
  DEBUG: "text-faint",
  INFO: "text-[#c7d2fe]",
  WARNING: "text-st-slow",
  ERROR: "text-st-failed",
};

export function LogsPanel({ runId, tasks }: { runId: string; tasks: TaskRunView[] }) {
  const [taskRunId, setTaskRunId] = useState("");
  const [levels, setLevels] = useState<LogLevel[]>([...LOG_LEVELS]);
  const filterLevels = levels.length === LOG_LEVELS.length ? [] : levels;
  const { data, error, isLoading } = useRunLogs(runId, { taskRunId, levels: filterLevels });
  const boxRef = useRef<HTMLDivElement>(null);
  const [following, setFollowing] = useState(true);
  const logs = data ?? [];
  const lastId = logs.length ? logs[logs.length - 1].id : "";
  // How many lines were held when the reader left the tail: the jump button counts the rest.
  const [leftAt, setLeftAt] = useState(0);
  // The virtualiser's hook returns fresh functions each render by design: this panel is left
  // unmemoised by the React Compiler, which is what the hook needs.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count: logs.length,
    getScrollElement: () => boxRef.current,
    estimateSize: () => ROW_ESTIMATE,
    overscan: 12,
    getItemKey: (i) => logs[i].id,
  });
  const totalSize = virtualizer.getTotalSize();

  // Whether the reader was at the bottom is judged against the content as it was *before* the
  // new lines, not from scroll events (which arrive a frame late and race with fast logs).
  const prevHeight = useRef(0);
  const filterKey = `${taskRunId}|${filterLevels.join()}`;
  const prevFilter = useRef(filterKey);
  useLayoutEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    const filterChanged = prevFilter.current !== filterKey;
    prevFilter.current = filterKey;
    const wasAtBottom = filterChanged || box.scrollTop + box.clientHeight >= prevHeight.current - 24;
    if (following && wasAtBottom) box.scrollTop = box.scrollHeight;
    else if (following) {
      // Measured from the DOM before paint: the reader scrolled up while lines arrived.
      setFollowing(false);
      setLeftAt(logs.length);
    }
    prevHeight.current = box.scrollHeight;
    // totalSize: rows measured taller than estimated (wrapped lines) grow the list; stay at its end.
  }, [lastId, following, filterKey, totalSize, logs.length]);

  const onScroll = () => {
    const box = boxRef.current;
    if (!box) return;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
    if (atBottom !== following) {
      setFollowing(atBottom);
      if (!atBottom) setLeftAt(logs.length);
    }
  };

  const follow = () => {
    const box = boxRef.current;
    if (box) box.scrollTop = box.scrollHeight;
    setFollowing(true);
  };
  const newLines = Math.max(0, logs.length - leftAt);

  const toggleLevel = (l: LogLevel) =>
    setLevels((cur) => {
      const next = cur.includes(l) ? cur.filter((x) => x !== l) : [...cur, l];
      return next.length ? LOG_LEVELS.filter((x) => next.includes(x)) : [...LOG_LEVELS];
    });

  return (
    <section className="card flex min-w-0 flex-col" aria-labelledby="logs-title" data-testid="log-panel">
      <div className="flex flex-wrap items-center justify-between gap-3 border-b border-line px-5 py-3">
        <h2 id="logs-title" className="section-title">
          Logs <span className="mono font-normal text-faint normal-case">({logs.length})</span>
        </h2>
        <div className="flex flex-wrap items-center gap-2">
          <label className="sr-only" htmlFor={`log-task-${runId}`}>
            Task
          </label>
          <select
            id={`log-task-${runId}`}
            className="field w-auto! min-w-40 py-1!"
            value={taskRunId}
            onChange={(e) => setTaskRunId(e.target.value)}
            data-testid="log-task-filter"
          >
            <option value="">All tasks</option>
            {tasks.map((t) => (
              <option key={t.id} value={t.id}>
                {t.position + 1}. {t.name}
              </option>
            ))}
          </select>
          <div role="group" aria-label="Log levels" className="flex gap-1">
            {LOG_LEVELS.map((l) => (
              <button
                key={l}
                type="button"
                className={`btn btn-sm mono ${levels.includes(l) ? `border-accent/70! ${LEVEL_CLASS[l]}` : "border-line! bg-transparent! text-faint line-through"}`}
                aria-pressed={levels.includes(l)}
                onClick={() => toggleLevel(l)}
                data-testid={`log-level-${l}`}
              >
                {l}
              </button>
            ))}
          </div>
        </div>
      </div>
      <div className="relative">
        <div
          ref={boxRef}
          onScroll={onScroll}
          className="mono h-80 overflow-auto bg-[#08071a] px-3 py-2 text-xs leading-5 sm:h-96"
          role="log"
          aria-live="polite"
          aria-relevant="additions"
          tabIndex={0}
          aria-label="Run logs"
          data-testid="log-lines"
          data-count={logs.length}
        >
          {error && !data ? <p className="text-st-failed">Could not load logs: {(error as Error).message}</p> : null}
          {isLoading && !data ? <p className="text-faint">Loading logs…</p> : null}
          {data && !logs.length ? <p className="text-faint">No log lines{taskRunId || filterLevels.length ? " match these filters" : " yet"}.</p> : null}
          {logs.length ? (
            <div className="relative w-full" style={{ height: totalSize }} data-testid="log-window">
              {virtualizer.getVirtualItems().map((row) => {
                const l = logs[row.index];
                return (
                  <div
                    key={row.key}
                    ref={virtualizer.measureElement}
                    data-index={row.index}
                    className="absolute top-0 left-0 grid w-full grid-cols-[6.5rem_4.5rem_minmax(0,1fr)] gap-x-2 border-b border-line/30 py-0.5 sm:grid-cols-[6.5rem_4.5rem_10rem_minmax(0,1fr)]"
                    style={{ transform: `translateY(${row.start}px)` }}
                    data-testid="log-line"
                    data-line={row.index + 1}
                    data-level={l.level}
                    data-task={l.taskName ?? ""}
                  >
                    <span className="text-faint">{formatClockMs(l.ts)}</span>
                    <span className={`font-bold ${LEVEL_CLASS[l.level]}`}>{l.level}</span>
                    <span className="hidden truncate text-magenta sm:block" title={l.taskName ?? "run"}>
                      {l.taskName ?? "—"}
                    </span>
                    <span className="col-span-3 break-words whitespace-pre-wrap text-ink sm:col-span-1" data-testid="log-message">
                      {showBidiControls(l.message)}
                    </span>
                  </div>
                );
              })}
            </div>
          ) : null}
        </div>
        {!following && logs.length ? (
          <button
            type="button"
            className="btn btn-sm btn-primary absolute right-4 bottom-3"
            onClick={follow}
            data-testid="log-follow"
          >
            ↓ Jump to latest{newLines ? ` (${newLines} new)` : ""}
          </button>
        ) : null}
      </div>
    </section>
  );
}
