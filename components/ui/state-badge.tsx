import type { RunState } from "@/lib/domain/states";

/** A run or task-run state, coloured the same way everywhere; RUNNING pulses (unless reduced motion). */
export function StateBadge({ state, testId = "run-state", label }: { state: RunState; testId?: string; label?: string }) {
  return (
    <span className={`badge st-${state}`} data-testid={testId} data-state={state}>
      <span className="badge-dot" aria-hidden="true" />
      {label ?? state}
    </span>
  );
}

export function OnlineDot({ online, testId }: { online: boolean; testId?: string }) {
  return (
    <span className={`badge st-${online ? "ONLINE" : "OFFLINE"}`} data-testid={testId} data-online={online ? "true" : "false"}>
      <span className={`badge-dot ${online ? "pulse" : ""}`} aria-hidden="true" />
      {online ? "online" : "offline"}
    </span>
  );
}
