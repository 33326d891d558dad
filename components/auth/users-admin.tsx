"use client";
/** Admin: users — create, change role, reset password, delete. The server refuses what would leave no admin (409). */
import { useState, type FormEvent } from "react";
import { deleteJson, patchJson, postJson } from "@/hooks/api-fetch";
import { useAction, useAdminList } from "@/hooks/use-admin-list";
import { useMe } from "@/hooks/use-me";
import type { UserView } from "@/lib/contracts/auth";
import { USER_ROLES, type UserRole } from "@/lib/domain/states";
import { ErrorState, LoadingBlock } from "@/components/ui/status-views";
import { FormError } from "./auth-card";

export function UsersAdmin() {
  const { data, error, mutate } = useAdminList<{ users: UserView[] }>("/api/users");
  const { data: me } = useMe();
  const { error: formError, act: actOnForm } = useAction(mutate);
  const { error: rowError, act } = useAction(mutate);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<UserRole>("viewer");
  const [resetting, setResetting] = useState<string | null>(null);
  const [newPassword, setNewPassword] = useState("");

  async function create(e: FormEvent) {
    e.preventDefault();
    const done = await actOnForm(async () => {
      await postJson("/api/users", { username, password, role });
      return true;
    });
    if (!done) return;
    setUsername("");
    setPassword("");
  }

  if (error) return <ErrorState error={error} />;
  if (!data) return <LoadingBlock />;
  return (
    <div className="flex flex-col gap-6">
      <form onSubmit={create} className="card flex flex-wrap items-end gap-3 p-4" data-testid="user-create" noValidate>
        <label className="flex flex-col gap-1 text-sm">
          <span className="text-muted">Username</span>
          <input className="field" value={username} onChange={(e) => setUsername(e.target.value)} data-testid="user-create-name" />
        </label>
        <label className="flex flex-col gap-1 text-sm">
          <span className="text-muted">Password</span>
          <input className="field" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} data-testid="user-create-password" />
        </label>
        <label className="flex flex-col gap-1 text-sm">
          <span className="text-muted">Role</span>
          <select className="field" value={role} onChange={(e) => setRole(e.target.value as UserRole)} data-testid="user-create-role">
            {USER_ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" className="btn btn-primary" disabled={!username || password.length < 8} data-testid="user-create-submit">
          Add user
        </button>
        <div className="basis-full">
          <FormError message={formError} />
        </div>
      </form>
      <FormError message={rowError} />
      <div className="card overflow-x-auto">
        <table className="w-full text-left text-sm" data-testid="users-table">
          <thead className="text-muted">
            <tr>
              <th className="px-4 py-2">User</th>
              <th className="px-4 py-2">Role</th>
              <th className="px-4 py-2">Last login</th>
              <th className="px-4 py-2">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.users.map((u) => (
              <tr key={u.username} className="border-t border-line" data-testid="user-row" data-username={u.username}>
                <td className="px-4 py-2 font-semibold break-all">
                  {u.username}
                  {me?.username === u.username ? <span className="ml-2 text-xs text-faint">(you)</span> : null}
                </td>
                <td className="px-4 py-2">
                  <select
                    className="field"
                    aria-label={`Role of ${u.username}`}
                    value={u.role}
                    onChange={(e) => act(() => patchJson(`/api/users/${encodeURIComponent(u.username)}`, { role: e.target.value }))}
                    data-testid="user-role-select"
                  >
                    {USER_ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td className="px-4 py-2 text-muted">{u.lastLoginAt ? new Date(u.lastLoginAt).toLocaleString() : "never"}</td>
                <td className="px-4 py-2">
                  <div className="flex flex-wrap justify-end gap-2">
                    {resetting === u.username ? (
                      <form
                        className="flex gap-2"
                        onSubmit={(e) => {
                          e.preventDefault();
                          act(async () => {
                            await patchJson(`/api/users/${encodeURIComponent(u.username)}`, { password: newPassword });
                            setResetting(null);
                            setNewPassword("");
                          });
                        }}
                      >
                        <input className="field" type="password" autoComplete="new-password" aria-label={`New password for ${u.username}`} value={newPassword} onChange={(e) => setNewPassword(e.target.value)} />
                        <button type="submit" className="btn btn-sm" disabled={newPassword.length < 8}>
                          Save
                        </button>
                      </form>
                    ) : (
                      <button type="button" className="btn btn-sm" onClick={() => setResetting(u.username)} data-testid="user-reset">
                        Reset password
                      </button>
                    )}
                    <button
                      type="button"
                      className="btn btn-sm btn-danger"
                      onClick={() => {
                        if (window.confirm(`Delete user ${u.username}?`)) act(() => deleteJson(`/api/users/${encodeURIComponent(u.username)}`));
                      }}
                      data-testid="user-delete"
                    >
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
