"use client";
/** Admin: API tokens — create (the token is shown once, with a copy button), list without secrets, revoke. */
import { useState, type FormEvent } from "react";
import { deleteJson, postJson } from "@/hooks/api-fetch";
import { useAction, useAdminList } from "@/hooks/use-admin-list";
import type { TokenView } from "@/lib/contracts/auth";
import { USER_ROLES, type UserRole } from "@/lib/domain/states";
import { ErrorState, LoadingBlock } from "@/components/ui/status-views";
import { FormError } from "./auth-card";

export function TokensAdmin() {
  const { data, error, mutate } = useAdminList<{ tokens: TokenView[] }>("/api/tokens");
  const { error: formError, act } = useAction(mutate);
  const [name, setName] = useState("");
  const [role, setRole] = useState<UserRole>("viewer");
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = useState(false);

  async function create(e: FormEvent) {
    e.preventDefault();
    const t = await act(() => postJson<TokenView & { token: string }>("/api/tokens", { name, role }));
    if (!t) return;
    setCreated({ name: t.name, token: t.token });
    setCopied(false);
    setName("");
  }
  const revoke = (id: string) => act(() => deleteJson(`/api/tokens/${encodeURIComponent(id)}`));

  if (error) return <ErrorState error={error} />;
  if (!data) return <LoadingBlock />;
  return (
    <div className="flex flex-col gap-6">
      <form onSubmit={create} className="card flex flex-wrap items-end gap-3 p-4" data-testid="token-create" noValidate>
        <label className="flex flex-col gap-1 text-sm">
          <span className="text-muted">Name (who uses it)</span>
          <input className="field" value={name} onChange={(e) => setName(e.target.value)} data-testid="token-create-name" />
        </label>
        <label className="flex flex-col gap-1 text-sm">
          <span className="text-muted">Role</span>
          <select className="field" value={role} onChange={(e) => setRole(e.target.value as UserRole)} data-testid="token-create-role">
            {USER_ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" className="btn btn-primary" disabled={!name.trim()} data-testid="token-create-submit">
          Create token
        </button>
        <div className="basis-full">
          <FormError message={formError} />
        </div>
      </form>
      {created ? (
        <div className="card card-hot flex flex-col gap-2 p-4" role="status" data-testid="token-created">
          <p className="text-sm font-semibold">Token for {created.name} — copy it now: it is not shown again.</p>
          <div className="flex flex-wrap items-center gap-2">
            <code className="mono break-all rounded bg-panel-2 px-2 py-1 text-sm" data-testid="token-value">
              {created.token}
            </code>
            <button
              type="button"
              className="btn btn-sm"
              onClick={() => navigator.clipboard?.writeText(created.token).then(() => setCopied(true), () => setCopied(false))}
              data-testid="token-copy"
            >
              {copied ? "Copied" : "Copy"}
            </button>
          </div>
          <p className="text-xs text-muted">Use it as <span className="mono">Authorization: Bearer &lt;token&gt;</span>, or PERFECT_API_TOKEN for the CLI.</p>
        </div>
      ) : null}
      <div className="card overflow-x-auto">
        <table className="w-full text-left text-sm" data-testid="tokens-table">
          <thead className="text-muted">
            <tr>
              <th className="px-4 py-2">Name</th>
              <th className="px-4 py-2">Id</th>
              <th className="px-4 py-2">Role</th>
              <th className="px-4 py-2">Created by</th>
              <th className="px-4 py-2">Last used</th>
              <th className="px-4 py-2">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.tokens.map((t) => (
              <tr key={t.id} className="border-t border-line" data-testid="token-row" data-token-id={t.id}>
                <td className="px-4 py-2 font-semibold break-all">{t.name}</td>
                <td className="mono px-4 py-2 text-muted">{t.id}</td>
                <td className="px-4 py-2">{t.role}</td>
                <td className="px-4 py-2 text-muted">{t.createdBy ?? "—"}</td>
                <td className="px-4 py-2 text-muted">{t.lastUsedAt ? new Date(t.lastUsedAt).toLocaleString() : "never"}</td>
                <td className="px-4 py-2 text-right">
                  {t.revokedAt ? (
                    <span className="badge st-CANCELLED" data-testid="token-revoked">
                      revoked
                    </span>
                  ) : (
                    <button type="button" className="btn btn-sm btn-danger" onClick={() => revoke(t.id)} data-testid="token-revoke">
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
