"use client";
/**
 * What is going on, at a glance, above the flows: running now, failed in the last 24 h, late,
 * workers online — each a link to where one would look next, live. Figures are reserved
 * space while loading (no layout shift) and each is read with its label.
 */
import Link from "next/link";
import type { SummaryView } from "@/lib/contracts/dashboard";
import { useSummary } from "@/hooks/use-summary";

interface Figure {
  id: string;
  label: string;
  value: (s: SummaryView) => number;
  href: (s: SummaryView | undefined) => string;
  /** Tone when the figure is above zero. */
  alert?: boolean;
  detail?: (s: SummaryView) => string | null;
}

const FIGURES: Figure[] = [
  { id: "running", label: "running now", value: (s) => s.runningNow, href: () => "/runs?state=RUNNING", detail: (s) => (s.pendingNow ? `${s.pendingNow} pending` : null) },
  { id: "failed", label: "failed in 24 h", value: (s) => s.failed24h, href: (s) => `/runs?state=FAILED${s ? `&from=${encodeURIComponent(s.failedSince)}` : ""}`, alert: true },
  { id: "late", label: "late", value: (s) => s.late, href: () => "/runs?state=PENDING", alert: true },
  { id: "workers", label: "workers online", value: (s) => s.workersOnline, href: () => "/clients", detail: (s) => `${s.clientsOnline} client${s.clientsOnline === 1 ? "" : "s"}` },
];

export function SummaryStrip() {
  const { data, error } = useSummary();
  return (
    <section aria-label="Summary" className="mb-6 grid grid-cols-2 gap-3 sm:grid-cols-4" data-testid="summary-strip" data-loaded={data ? "true" : "false"}>
      {FIGURES.map((f) => {
        const value = data ? f.value(data) : null;
        const hot = f.alert && value !== null && value > 0;
        const detail = data && f.detail ? f.detail(data) : null;
        return (
          <Link
            key={f.id}
            href={f.href(data)}
            className={`card block p-4 no-underline! hover:border-accent focus-visible:outline-2 ${hot ? "border-st-failed" : ""}`}
            data-testid={`summary-${f.id}`}
            aria-label={value === null ? `${f.label}: loading` : `${value} ${f.label}${detail ? `, ${detail}` : ""}`}
          >
            <span className={`mono block text-2xl font-bold ${hot ? "text-st-failed" : "text-ink"}`} data-testid={`summary-${f.id}-value`}>
              {value === null ? (error ? "?" : "–") : value.toLocaleString("en-US")}
            </span>
            <span className="block text-xs text-muted">{f.label}</span>
            <span className="block min-h-4 text-xs text-faint">{detail ?? ""}</span>
          </Link>
        );
      })}
    </section>
  );
}
