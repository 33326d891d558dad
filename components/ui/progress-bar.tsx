import type { RunState } from "@/lib/domain/states";

/** A progress bar with the state's colour; exposes its value to assistive tech and tests. */
export function ProgressBar({
  value,
  state,
  large = false,
  label,
  testId,
}: {
  value: number;
  state: RunState;
  large?: boolean;
  label: string;
  testId?: string;
}) {
  const pct = Math.round(Math.min(Math.max(value, 0), 1) * 1000) / 10;
  return (
    <div
      className={`bar st-${state} ${large ? "bar-lg" : ""}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.floor(pct)}
      data-testid={testId}
      data-progress={value.toFixed(4)}
    >
      <span style={{ width: `${pct}%` }} />
    </div>
  );
}
