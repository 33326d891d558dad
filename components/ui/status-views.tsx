import type { ReactNode } from "react";

/** Empty, loading and error states used by every page. */

export function EmptyState({ title, children, testId = "empty-state" }: { title: string; children?: ReactNode; testId?: string }) {
  return (
    <div className="card p-8 text-center" data-testid={testId}>
      <p className="text-lg font-semibold text-ink">{title}</p>
      {children ? <div className="mt-3 text-sm text-muted">{children}</div> : null}
    </div>
  );
}

export function ErrorState({ title = "Could not load", error, testId = "error-state" }: { title?: string; error: unknown; testId?: string }) {
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="card border-st-failed/60! p-6" role="alert" data-testid={testId}>
      <p className="font-semibold text-st-failed">{title}</p>
      <p className="mono mt-2 text-sm break-words text-muted">{message}</p>
    </div>
  );
}

export function LoadingBlock({ lines = 3, label = "Loading" }: { lines?: number; label?: string }) {
  return (
    <div className="space-y-3" role="status" aria-live="polite" aria-label={label} data-testid="loading">
      {Array.from({ length: lines }, (_, i) => (
        <div key={i} className="skeleton h-16" />
      ))}
      <span className="sr-only">{label}…</span>
    </div>
  );
}

export function PageHeader({ title, subtitle, actions }: { title: string; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="mb-6 flex flex-wrap items-end justify-between gap-3">
      <div className="min-w-0">
        <h1 className="glow-text text-2xl font-bold tracking-tight text-ink sm:text-3xl">{title}</h1>
        {subtitle ? <p className="mt-1 text-sm text-muted">{subtitle}</p> : null}
      </div>
      {actions ? <div className="flex flex-wrap gap-2">{actions}</div> : null}
    </header>
  );
}
