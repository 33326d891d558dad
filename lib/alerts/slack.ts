/**
 * A Slack incoming-webhook message for a delivery: `text` (the notification line) and blocks a
 * person reads at a glance — what happened, the flow, state, error, duration against the usual,
 * and a link to the run. Built from the stored envelope, so every retry sends the same body.
 */
export interface Envelope {
  type: string;
  id: string;
  timestamp: string;
  data: Record<string, unknown>;
}

const TITLES: Record<string, string> = {
  "run.failed": ":red_circle: Run failed",
  "run.completed": ":large_green_circle: Run completed",
  "run.recovered": ":white_check_mark: Run recovered",
  "run.late": ":hourglass: Run is late",
  "worker.lost": ":electric_plug: Worker lost",
  "task.slow": ":turtle: Task is slow",
  "task.critical": ":rotating_light: Task is critically slow",
  "alert.test": ":bell: Test alert from Perfect",
};

/** Slack's mrkdwn needs &, < and > escaped in text that is not a link. */
function esc(v: unknown): string {
  return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function formatDuration(ms: unknown): string | null {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return null;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function slackMessage(env: Envelope): { text: string; blocks: unknown[] } {
  const d = env.data;
  const title = TITLES[env.type] ?? env.type;
  const subject = d.flow ? ` — ${esc(d.flow)}${d.task ? ` / ${esc(d.task)}` : ""}` : d.workerId ? ` — ${esc(d.workerId)}` : "";
  const fields: string[] = [];
  if (d.flow) fields.push(`*Flow:* ${esc(d.flow)}`);
  if (d.task) fields.push(`*Task:* ${esc(d.task)}${d.attempt ? ` (attempt ${esc(d.attempt)})` : ""}`);
  if (d.state) fields.push(`*State:* ${esc(d.state)}`);
  if (d.client) fields.push(`*Client:* ${esc(d.client)}`);
  if (d.workerId) fields.push(`*Worker:* ${esc(d.workerId)}${d.hostname ? ` on ${esc(d.hostname)}` : ""}`);
  const took = formatDuration(d.durationMs ?? d.elapsedMs);
  const usual = formatDuration(d.usualDurationMs);
  if (took) fields.push(`*Duration:* ${took}${usual ? ` (usually ${usual})` : ""}`);
  if (d.lateByMs !== undefined) fields.push(`*Late by:* ${formatDuration(d.lateByMs)}`);
  if (typeof d.zScore === "number") fields.push(`*z-score:* ${d.zScore.toFixed(1)} (threshold ${esc(d.threshold)})`);
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: `${title.replace(/:[a-z_]+: /, "")}${subject.replace(/&amp;|&lt;|&gt;/g, (m) => ({ "&amp;": "&", "&lt;": "<", "&gt;": ">" })[m]!)}`.slice(0, 150) } },
  ];
  if (fields.length) blocks.push({ type: "section", fields: fields.slice(0, 10).map((text) => ({ type: "mrkdwn", text })) });
  if (d.error) blocks.push({ type: "section", text: { type: "mrkdwn", text: `*Error:*\n\`\`\`${esc(String(d.error).slice(0, 2500))}\`\`\`` } });
  if (typeof d.link === "string") blocks.push({ type: "section", text: { type: "mrkdwn", text: `<${d.link}|Open in Perfect>` } });
  return { text: `${title}${subject}`, blocks };
}
