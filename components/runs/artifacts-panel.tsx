"use client";
/**
 * A run's artifacts (Prefect's `prefect.artifacts`): markdown, tables, links and progress bars.
 *
 * Markdown is rendered by a small renderer of our own into React elements — headings,
 * paragraphs, lists, code, emphasis, links — and every piece of text goes through React's text
 * escaping: raw HTML in the markdown (`<script>`, `<img onerror>`) is shown as the characters
 * it is, never parsed. Links (in markdown and link artifacts) become hrefs only for http(s).
 */
import { Fragment, type ReactNode } from "react";
import useSWR from "swr";
import type { ArtifactView } from "@/lib/contracts/artifacts";
import type { RunView } from "@/lib/contracts/dashboard";
import { getJson } from "@/hooks/api-fetch";
import { runKey } from "@/hooks/use-run";

/** An href only for http:// and https:// URLs (no javascript:, data:, relative tricks). */
export function safeHref(url: unknown): string | null {
  if (typeof url !== "string") return null;
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

function ExternalLink({ href, children }: { href: string | null; children: ReactNode }) {
  if (!href) return <span className="text-ink">{children}</span>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow" className="text-accent underline">
      {children}
    </a>
  );
}

/** Inline markdown: `code`, **bold**, *italic*, [text](url); everything else is text. */
export function renderInline(text: string, keyPrefix = "i"): ReactNode[] {
  const out: ReactNode[] = [];
  const pattern = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))/g;
  let last = 0;
  let n = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const token = m[0];
    const key = `${keyPrefix}-${n++}`;
    if (m[1]) out.push(<code key={key} className="mono rounded bg-panel-2 px-1">{token.slice(1, -1)}</code>);
    else if (m[2]) out.push(<strong key={key}>{renderInline(token.slice(2, -2), key)}</strong>);
    else if (m[3]) out.push(<em key={key}>{renderInline(token.slice(1, -1), key)}</em>);
    else {
      const close = token.indexOf("](");
      out.push(
        <ExternalLink key={key} href={safeHref(token.slice(close + 2, -1))}>
          {token.slice(1, close)}
        </ExternalLink>,
      );
    }
    last = m.index + token.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Block markdown → React elements (text only, never HTML). */
export function Markdown({ source }: { source: string }) {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks: ReactNode[] = [];
  let i = 0;
  let key = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const body: string[] = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) body.push(lines[i]);
      i++;
      blocks.push(
        <pre key={key++} className="mono overflow-x-auto rounded bg-panel-2 p-2 text-xs">
          {body.join("\n")}
        </pre>,
      );
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const level = heading[1].length;
      const cls = level === 1 ? "text-lg font-semibold" : level === 2 ? "text-base font-semibold" : "text-sm font-semibold";
      blocks.push(
        <p key={key++} role="heading" aria-level={level} className={cls}>
          {renderInline(heading[2], `h${key}`)}
        </p>,
      );
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d+\.)\s+/.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const items: string[] = [];
      for (; i < lines.length && /^\s*([-*+]|\d+\.)\s+/.test(lines[i]); i++) items.push(lines[i].replace(/^\s*([-*+]|\d+\.)\s+/, ""));
      const children = items.map((item, k) => <li key={k}>{renderInline(item, `l${key}-${k}`)}</li>);
      blocks.push(
        ordered ? (
          <ol key={key++} className="list-decimal pl-5">{children}</ol>
        ) : (
          <ul key={key++} className="list-disc pl-5">{children}</ul>
        ),
      );
      continue;
    }
    if (!line.trim()) {
      i++;
      continue;
    }
    const para: string[] = [];
    for (; i < lines.length && lines[i].trim() && !/^(#{1,6}\s|```|\s*([-*+]|\d+\.)\s)/.test(lines[i]); i++) para.push(lines[i]);
    blocks.push(
      <p key={key++} className="whitespace-pre-wrap">
        {para.map((p, k) => (
          <Fragment key={k}>
            {k > 0 ? "\n" : null}
            {renderInline(p, `p${key}-${k}`)}
          </Fragment>
        ))}
      </p>,
    );
  }
  return <div className="space-y-2 text-sm text-ink" data-testid="artifact-markdown">{blocks}</div>;
}

function cellText(v: unknown): string {
  return v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
}

/** One artifact by its type. */
export function ArtifactBody({ artifact }: { artifact: ArtifactView }) {
  const data = (artifact.data ?? {}) as Record<string, unknown>;
  switch (artifact.type) {
    case "markdown":
      return <Markdown source={typeof data.markdown === "string" ? data.markdown : ""} />;
    case "table": {
      const columns = Array.isArray(data.columns) ? (data.columns as unknown[]).map(cellText) : [];
      const rows = Array.isArray(data.rows) ? (data.rows as unknown[][]) : [];
      return (
        <div className="overflow-x-auto">
          <table className="mono w-full text-xs" data-testid="artifact-table">
            <thead>
              <tr>{columns.map((c, k) => <th key={k} className="px-2 py-1 text-left text-muted">{c}</th>)}</tr>
            </thead>
            <tbody>
              {rows.map((row, r) => (
                <tr key={r} className="border-t border-line">
                  {(Array.isArray(row) ? row : []).map((v, k) => <td key={k} className="px-2 py-1">{cellText(v)}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    }
    case "link": {
      const href = safeHref(data.url);
      const text = typeof data.text === "string" && data.text ? data.text : cellText(data.url);
      return (
        <p className="text-sm" data-testid="artifact-link">
          <ExternalLink href={href}>{text}</ExternalLink>
        </p>
      );
    }
    case "progress": {
      const value = Math.max(0, Math.min(100, Number(data.progress) || 0));
      return (
        <div role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={value} aria-label={artifact.description || artifact.key || "progress"} data-testid="artifact-progress">
          <div className="h-2 w-full rounded bg-panel-2">
            <div className="h-2 rounded bg-accent" style={{ width: `${value}%` }} />
          </div>
          <p className="mono mt-1 text-xs text-muted">{value.toFixed(0)}%</p>
        </div>
      );
    }
  }
}

/** Every artifact of the run, live while the run is active. */
export function ArtifactsPanel({ run }: { run: RunView }) {
  const active = run.state === "RUNNING" || run.state === "PENDING";
  const { data } = useSWR<{ artifacts: ArtifactView[] }>(`${runKey(run.id)}/artifacts`, getJson, {
    refreshInterval: active ? 2000 : 0,
  });
  const artifacts = data?.artifacts ?? [];
  if (!artifacts.length) return null;
  return (
    <section className="card space-y-4 p-5" aria-label="Artifacts" data-testid="artifacts-panel">
      <h2 className="section-title">Artifacts</h2>
      {artifacts.map((a) => (
        <article key={a.id} className="space-y-1.5" data-testid={`artifact-${a.id}`} data-type={a.type}>
          <header className="flex items-baseline gap-2">
            <span className="mono text-xs text-muted">{a.type}</span>
            {a.key ? <span className="mono text-xs text-ink">{a.key}</span> : null}
          </header>
          {a.description ? <p className="text-xs text-muted">{a.description}</p> : null}
          <ArtifactBody artifact={a} />
        </article>
      ))}
    </section>
  );
}
