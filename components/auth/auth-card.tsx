/** The centred card of the login and setup pages. */
import type { ReactNode } from "react";

export function AuthCard({ title, children, testId }: { title: string; children: ReactNode; testId: string }) {
  return (
    <section className="mx-auto mt-10 w-full max-w-sm card p-6" data-testid={testId} aria-labelledby={`${testId}-title`}>
      <h1 id={`${testId}-title`} className="mb-4 text-xl font-bold">
        {title}
      </h1>
      {children}
    </section>
  );
}

export function FormError({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <p role="alert" className="rounded-md border border-st-failed/50 bg-st-failed/10 px-3 py-2 text-sm text-st-failed" data-testid="auth-error">
      {message}
    </p>
  );
}

/** Where to go after signing in: only a path of this site (never another origin). */
export function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}
