"use client";
/** The top nav's right end: who is signed in, with which role, admin links and logout; before setup, a link to it. */
import Link from "next/link";
import { useState } from "react";
import { holdNavigation, leaveFor, postJson } from "@/hooks/api-fetch";
import { useMe } from "@/hooks/use-me";

export function UserMenu() {
  const { data: me } = useMe();
  const [busy, setBusy] = useState(false);
  if (!me) return null;
  if (me.via === "local") {
    return (
      <Link href="/setup" className="badge no-underline!" data-testid="setup-link" title="Anyone on this machine can use the dashboard until the first admin exists">
        No users yet · set up access
      </Link>
    );
  }
  if (!me.username) return null;
  async function logout() {
    setBusy(true);
    // Reads failing with 401 once the session is gone must not navigate first.
    holdNavigation();
    try {
      await postJson("/api/auth/logout", {});
    } finally {
      leaveFor("/login");
    }
  }
  return (
    <div className="flex items-center gap-2 text-sm" data-testid="user-menu">
      {me.role === "admin" ? (
        <nav aria-label="Administration" className="flex gap-1">
          <Link href="/admin/users" className="rounded-md px-2 py-1 text-muted no-underline! hover:bg-panel-2 hover:text-ink" data-testid="nav-users">
            Users
          </Link>
          <Link href="/admin/tokens" className="rounded-md px-2 py-1 text-muted no-underline! hover:bg-panel-2 hover:text-ink" data-testid="nav-tokens">
            Tokens
          </Link>
        </nav>
      ) : null}
      <span className="max-w-[12rem] truncate font-semibold text-ink" data-testid="user-name" title={me.username}>
        {me.username}
      </span>
      <span className="badge" data-testid="user-role">
        {me.role}
      </span>
      {me.via === "session" ? (
        <button type="button" className="btn btn-sm" onClick={logout} disabled={busy} data-testid="logout-button">
          Log out
        </button>
      ) : null}
    </div>
  );
}
