/**
 * The self-contained HTML run report: inline CSS only, no scripts, no external requests.
 * Summary, tags, parameters, task table (duration vs mean, warnings highlighted), timeline, logs.
 */
import type { ArtifactView } from "../contracts/artifacts";
import type { LogView, RunView } from "../contracts/dashboard";
import { html, trusted, type SafeHtml } from "./html";

const STATE_COLOR: Record<string, string> = {
  COMPLETED: "#3ddc84",
  RUNNING: "#22d3ee",
  PENDING: "#9ca3af",
  FAILED: "#ff5c7a",
  CANCELLED: "#f5a524",
};

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

const CSS = `
*{box-sizing:border-box}h1,h2,p,span,td,th,li,pre,code,dd,dt,a{unicode-bidi:isolate}body{margin:0;background:#0b0a1a;color:#e6e6f0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1100px;margin:0 auto;padding:32px 24px}
h1{font-size:24px;margin:0 0 4px;color:#fff}h2{font-size:16px;margin:28px 0 10px;color:#f0abfc;text-transform:uppercase;letter-spacing:.08em}
.mono,td.num,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.muted{color:#a5a3c2}.card{border:1px solid #2d2a5a;border-radius:8px;padding:16px;background:#12102a;box-shadow:0 0 12px rgba(34,211,238,.08)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px}
.k{font-size:12px;color:#a5a3c2;text-transform:uppercase;letter-spacing:.06em}.v{font-size:16px;margin-top:2px;word-break:break-word}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;border:1px solid currentColor;font-size:12px;font-weight:600}
.chip{display:inline-block;margin:0 6px 6px 0;padding:2px 8px;border-radius:4px;background:#1d1a40;border:1px solid #3b3780;font-size:12px}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #23204a;vertical-align:top}
th{font-size:12px;color:#a5a3c2;text-transform:uppercase;letter-spacing:.05em}
tr.flag-SLOW td{background:rgba(250,204,21,.08)}tr.flag-CRITICAL td{background:rgba(255,60,160,.12)}
.w-SLOW{color:#facc15}.w-CRITICAL{color:#ff4fb0}
.bar{height:8px;background:#1d1a40;border-radius:4px;overflow:hidden}.bar>div{height:100%;background:#22d3ee}
.tl{position:relative;height:18px;background:#151232;border-radius:3px;margin:4px 0}.tl>div{position:absolute;top:2px;bottom:2px;border-radius:3px}
pre{white-space:pre-wrap;word-break:break-word;margin:0;font-size:12px}
.log{display:grid;grid-template-columns:110px 70px 140px 1fr;gap:8px;padding:3px 0;border-bottom:1px solid #1b1838;font-size:12px}
.l-ERROR{color:#ff5c7a}.l-WARNING{color:#facc15}.l-DEBUG{color:#8b89a8}.l-INFO{color:#c7d2fe}
footer{margin-top:32px;font-size:12px;color:#a5a3c2}
`;

const cellText = (v: unknown): string => (v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v));
const httpOnly = (u: unknown): string | null => {
  if (typeof u !== "string") return null;
  try {
    const url = new URL(u);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
};

/** One artifact as report HTML: markdown as its text (escaped, never parsed as HTML), tables, http(s) links, progress bars. */
function artifactHtml(a: ArtifactView): SafeHtml {
  const d = (a.data ?? {}) as Record<string, unknown>;
  const head = html`<div class="mono muted">${a.type}${a.key ? ` · ${a.key}` : ""}${a.description ? ` — ${a.description}` : ""}</div>`;
  switch (a.type) {
    case "markdown":
      return html`${head}<pre>${cellText(d.markdown)}</pre>`;
    case "table": {
      const columns = Array.isArray(d.columns) ? (d.columns as unknown[]) : [];
      const rows = Array.isArray(d.rows) ? (d.rows as unknown[][]) : [];
      return html`${head}<table><thead><tr>${columns.map((c) => html`<th>${cellText(c)}</th>`)}</tr></thead><tbody>${rows.map(
        (r) => html`<tr>${(Array.isArray(r) ? r : []).map((v) => html`<td>${cellText(v)}</td>`)}</tr>`,
      )}</tbody></table>`;
    }
    case "link": {
      const href = httpOnly(d.url);
      const text = cellText(d.text || d.url);
      return href ? html`${head}<a href="${href}" rel="noopener noreferrer">${text}</a>` : html`${head}<span>${text}</span>`;
    }
    case "progress": {
      const value = Math.max(0, Math.min(100, Number(d.progress) || 0));
      return html`${head}<span class="mono">${value.toFixed(0)} %</span><div class="bar"><div style="width:${value.toFixed(1)}%"></div></div>`;
    }
  }
}

export function renderRunReport(run: RunView, logs: LogView[], generatedAt: Date, artifacts: ArtifactView[] = []): string {
  const color = STATE_COLOR[run.state] ?? "#e6e6f0";
  const flagged = run.taskRuns.filter((t) => t.warning);
  const start = run.taskRuns.reduce((m, t) => (t.startedAt ? Math.min(m, Date.parse(t.startedAt)) : m), Infinity);
  const end = run.taskRuns.reduce(
    (m, t) => (t.startedAt ? Math.max(m, t.endedAt ? Date.parse(t.endedAt) : Date.parse(t.startedAt) + (t.durationMs ?? 0)) : m),
    -Infinity,
  );
  const span = Number.isFinite(start) && end > start ? end - start : 0;

  const kv = (k: string, v: SafeHtml | string) => html`<div><div class="k">${k}</div><div class="v">${v}</div></div>`;
  const body = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Perfect run ${run.id} — ${run.flowName}</title>
<style>${trusted(CSS)}</style></head>
<body><main>
<h1>${run.flowName}</h1>
<div class="muted mono">run ${run.id} · client ${run.clientId} · triggered via ${run.trigger}</div>
<h2>Summary</h2>
<div class="card grid">
${kv("State", html`<span class="badge" style="color:${color}">${run.state}</span>${run.warning ? html` <span class="badge w-${run.warning}">${run.warning}</span>` : ""}`)}
${kv("Progress", html`<span class="mono">${(run.progress * 100).toFixed(1)} %</span><div class="bar"><div style="width:${(run.progress * 100).toFixed(1)}%"></div></div>`)}
${kv("Created", html`<span class="mono">${run.createdAt}</span>`)}
${kv("Started", html`<span class="mono">${run.startedAt ?? "—"}</span>`)}
${kv("Ended", html`<span class="mono">${run.endedAt ?? "—"}</span>`)}
${kv("Duration", html`<span class="mono">${formatMs(run.durationMs)}</span>`)}
${kv("Flagged tasks", html`<span class="mono">${flagged.length}</span>`)}
${run.error ? kv("Error", html`<pre class="l-ERROR">${run.error}</pre>`) : ""}
</div>
<h2>Tags</h2>
<div>${Object.keys(run.tags).length ? Object.entries(run.tags).map(([k, v]) => html`<span class="chip mono">${k}: ${v}</span>`) : html`<span class="muted">no tags</span>`}</div>
<h2>Parameters</h2>
<div class="card"><pre>${JSON.stringify(run.parameters, null, 2)}</pre></div>
<h2>Tasks</h2>
<table><thead><tr><th>#</th><th>Task</th><th>State</th><th>Duration</th><th>Mean (n)</th><th>vs mean</th><th>Warning</th><th>Attempt</th></tr></thead><tbody>
${run.taskRuns.map((t) => {
  const vs = t.durationMs !== null && t.meanMs ? `${((t.durationMs / t.meanMs) * 100).toFixed(0)} %` : "—";
  return html`<tr class="${t.warning ? `flag-${t.warning}` : ""}"><td class="num">${t.position + 1}</td><td>${t.name}${t.error ? html`<pre class="l-ERROR">${t.error}</pre>` : ""}</td>
<td><span class="badge" style="color:${STATE_COLOR[t.state]}">${t.state}</span></td><td class="num">${formatMs(t.durationMs)}</td>
<td class="num">${t.meanMs !== null ? `${formatMs(t.meanMs)} (${t.samples})` : "—"}</td><td class="num">${vs}</td>
<td>${t.warning ? html`<span class="badge w-${t.warning}">${t.warning}</span> <span class="mono muted">z=${t.zScore?.toFixed(2) ?? "?"} ≥ ${t.threshold ?? "?"}</span>` : ""}${t.stalled ? html` <span class="badge w-SLOW">STALLED</span>` : ""}</td>
<td class="num">${t.attempt}</td></tr>`;
})}
</tbody></table>
<h2>Timeline</h2>
<div class="card">${span > 0
    ? run.taskRuns.filter((t) => t.startedAt).map((t) => {
        const s = Date.parse(t.startedAt!);
        const e = t.endedAt ? Date.parse(t.endedAt) : s + (t.durationMs ?? 0);
        const left = ((s - start) / span) * 100;
        const width = Math.max(((e - s) / span) * 100, 0.5);
        return html`<div class="mono" style="font-size:12px">${t.name} <span class="muted">${formatMs(t.durationMs)}</span></div>
<div class="tl"><div style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%;background:${t.warning === "CRITICAL" ? "#ff4fb0" : t.warning === "SLOW" ? "#facc15" : STATE_COLOR[t.state]}"></div></div>`;
      })
    : html`<span class="muted">no task has started</span>`}</div>
${artifacts.length ? html`<h2>Artifacts (${artifacts.length})</h2>
<div class="card">${artifacts.map((a) => html`<div style="margin-bottom:12px">${artifactHtml(a)}</div>`)}</div>` : ""}
<h2>Logs (${logs.length})</h2>
<div class="card">${logs.length ? logs.map((l) => html`<div class="log"><span class="mono muted">${l.ts.slice(11, 23)}</span><span class="mono l-${l.level}">${l.level}</span><span class="mono muted">${l.taskName ?? "run"}</span><pre>${l.message}</pre></div>`) : html`<span class="muted">no logs</span>`}</div>
<footer>Generated by Perfect at ${generatedAt.toISOString()}. This file is self-contained: no scripts, no external resources.</footer>
</main></body></html>`;
  return body.value;
}
