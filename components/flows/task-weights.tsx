import type { TaskView } from "@/lib/contracts/dashboard";
import { formatDuration } from "@/components/ui/time-format";

/** A flow's tasks in order, each with its estimated time and its share of the run's progress. */
export function TaskWeights({ tasks }: { tasks: TaskView[] }) {
  if (tasks.length === 0) return <p className="text-sm text-faint">No tasks discovered.</p>;
  const total = tasks.reduce((s, t) => s + t.weight, 0) || 1;
  return (
    <ol className="space-y-1.5" data-testid="flow-tasks">
      {tasks.map((t, i) => (
        <li key={`${t.name}-${i}`} className="grid grid-cols-[1.5rem_minmax(0,1fr)_auto] items-center gap-x-2 text-sm" data-testid="flow-task">
          <span className="mono text-xs text-faint">{i + 1}</span>
          <span className="min-w-0">
            <span className="mono block truncate text-ink" title={t.description || t.name}>
              {t.name}
            </span>
            <span className="bar mt-1 block h-1!" aria-hidden="true">
              <span style={{ width: `${(t.weight / total) * 100}%` }} />
            </span>
          </span>
          <span className="mono text-right text-xs text-muted" title="estimatedTime / weight used for progress">
            {t.estimatedTime !== null ? formatDuration(t.estimatedTime) : "—"}
            <span className="text-faint"> / </span>
            {Math.round((t.weight / total) * 100)}%
          </span>
        </li>
      ))}
    </ol>
  );
}
