"use client";
/** Sign in: POST /api/auth/login, then back to the page that sent us here. */
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useState, type FormEvent } from "react";
import useSWR from "swr";
import { ApiRequestError, getJson, leaveFor, postJson } from "@/hooks/api-fetch";
import { AuthCard, FormError, safeNext } from "./auth-card";

export function LoginForm() {
  const params = useSearchParams();
  const next = safeNext(params.get("next"));
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { data: status } = useSWR<{ setupRequired: boolean; loopback: boolean }>("/api/auth/status", getJson);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await postJson("/api/auth/login", { username, password });
      leaveFor(next);
    } catch (err) {
      setError(err instanceof ApiRequestError ? err.message : String(err));
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Sign in to Perfect" testId="login">
      {status?.setupRequired ? (
        <p className="mb-4 text-sm text-muted" data-testid="login-setup-hint">
          No user exists yet.{" "}
          {status.loopback ? (
            <Link href="/setup">Create the first admin</Link>
          ) : (
            <>Create the first admin from the server&apos;s own machine (open /setup there).</>
          )}
        </p>
      ) : null}
      <form onSubmit={submit} className="flex flex-col gap-3" noValidate>
        <label className="flex flex-col gap-1 text-sm">
          <span className="text-muted">Username</span>
          <input className="field" name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required data-testid="login-username" />
        </label>
        <label className="flex flex-col gap-1 text-sm">
          <span className="text-muted">Password</span>
          <input className="field" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required data-testid="login-password" />
        </label>
        <FormError message={error} />
        <button type="submit" className="btn btn-primary" disabled={busy || !username || !password} data-testid="login-submit">
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </AuthCard>
  );
}
