"use client";
/** A banner while the server is unreachable or the live event stream is down. */
import { useConnectionHealth } from "@/hooks/connection-health";

export function ConnectionBanner() {
  const { stream, fetchError, offline } = useConnectionHealth();
  if (!fetchError && stream !== "down" && !offline) return null;
  const [title, detail] = offline
    ? ["You are offline.", "Perfect will refresh this page as soon as the network is back."]
    : fetchError
      ? ["Server unreachable.", "Retrying — what you see may be out of date."]
      : ["Live updates disconnected.", "Reconnecting — the page refreshes itself once the stream is back."];
  return (
    <div
      role="alert"
      data-testid="connection-banner"
      className="border-b border-st-failed/50 bg-[#2a0b1d] px-4 py-2 text-center text-sm text-ink"
    >
      <span className="font-semibold text-st-failed">{title}</span> <span className="text-muted">{detail}</span>
    </div>
  );
}
