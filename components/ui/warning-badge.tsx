import type { Warning } from "@/lib/domain/states";
import { formatDuration } from "./time-format";
import { Tooltip } from "./tooltip";

interface Props {
  warning: Warning;
  zScore?: number | null;
  threshold?: number | null;
  meanMs?: number | null;
  testId?: string;
  /** Header and list badges summarise: a sentence instead of per-task figures. */
  detail?: string;
}

/**
 * SLOW / CRITICAL badge. Its explanation (z-score, threshold) shows on hover and on keyboard
 * focus: the badge is focusable and the tooltip is its accessible description.
 */
export function WarningBadge({ warning, zScore, threshold, meanMs, testId = "task-warning", detail }: Props) {
  const text =
    detail ??
    ([
      zScore !== null && zScore !== undefined ? `z-score ${zScore.toFixed(2)}` : null,
      threshold !== null && threshold !== undefined ? `threshold ${threshold} (CRITICAL at ${(threshold * 2).toFixed(1)})` : null,
      meanMs !== null && meanMs !== undefined ? `mean ${formatDuration(meanMs)}` : null,
    ]
      .filter(Boolean)
      .join(" · ") ||
      warning);
  return (
    <Tooltip content={text} testId={`${testId}-tip`}>
      {(describedBy) => (
        <span className={`badge st-${warning} cursor-help`} data-testid={testId} data-warning={warning} tabIndex={0} aria-describedby={describedBy}>
          <span aria-hidden="true">{warning === "CRITICAL" ? "▲▲" : "▲"}</span>
          {warning}
        </span>
      )}
    </Tooltip>
  );
}
