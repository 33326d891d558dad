"use client";
/** The first admin (POST /api/auth/setup): offered only while no user exists, from the server's own machine. */
import Link from "next/link";
import { useState, type FormEvent } from "react";
import useSWR from "swr";
import { ApiRequestError, getJson, leaveFor, postJson } from "@/hooks/api-fetch";
import { SETUP_LATER_COOKIE } from "@/lib/auth/setup-later";
import { AuthCard, FormError } from "./auth-card";

export function SetupForm() {
  const { data: status } = useSWR<{ setupRequired: boolean; loopback: boolean }>("/api/auth/status", getJson);
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (password !== confirm) return setError("the two passwords differ");
    setBusy(true);
    setError(null);
    try {
      await postJson("/api/auth/setup", { username, password });
      leaveFor("/");
    } catch (err) {
      setError(err instanceof ApiRequestError ? err.message : String(err));
      setBusy(false);
    }
  }

  if (status && !status.setupRequired) {
    return (
      <AuthCard title="Setup is done" testId="setup">
        <p className="text-sm text-muted">
          A user already exists. <Link href="/login">Sign in</Link> instead.
        </p>
      </AuthCard>
    );
  }
  if (status && !status.loopback) {
    return (
      <AuthCard title="Create the first admin" testId="setup">
        <p className="text-sm text-muted">For safety the first admin can only be created from the server&apos;s own machine: open this page there (http://localhost:…/setup).</p>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Create the first admin" testId="setup">
      <p className="mb-4 text-sm text-muted">
        Until you do, anyone on this machine can use the dashboard without signing in, and nobody else can reach it. After this every page and API call needs a
        login or an API token.
      </p>
      <form onSubmit={submit} className="flex flex-col gap-3" noValidate>
        <label className="flex flex-col gap-1 text-sm">
          <span className="text-muted">Username</span>
          <input className="field" name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required data-testid="setup-username" />
        </label>
        <label className="flex flex-col gap-1 text-sm">
          <span className="text-muted">Password (at least 8 characters)</span>
          <input className="field" name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required data-testid="setup-password" />
        </label>
        <label className="flex flex-col gap-1 text-sm">
          <span className="text-muted">Password again</span>
          <input className="field" name="confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required data-testid="setup-confirm" />
        </label>
        <FormError message={error} />
        <button type="submit" className="btn btn-primary" disabled={busy || !username || password.length < 8} data-testid="setup-submit">
          {busy ? "Creating…" : "Create admin and sign in"}
        </button>
      </form>
      <p className="mt-4 text-sm text-muted">
        <button type="button" onClick={notNow} className="text-accent underline-offset-2 hover:underline" data-testid="setup-later">
          Not now: keep using the dashboard on this machine without a login
        </button>
      </p>
    </AuthCard>
  );
}

/** "Not now": the home page stops opening to this page in this browser (the server reads the cookie). */
function notNow() {
  document.cookie = `${SETUP_LATER_COOKIE}=1; Path=/; Max-Age=${30 * 24 * 3600}; SameSite=Lax`;
  leaveFor("/");
}
