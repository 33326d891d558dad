/**
 * The alerts file (alerts.json, PERFECT_ALERTS_FILE): destinations and the rules that send
 * events to them. Validated with zod like clients.json: an invalid file is an error naming the
 * field. The file is optional: none means no rules.
 */
import fs from "node:fs";
import { z } from "zod";
import { ALERT_EVENTS, type AlertEvent } from "../domain/states";

const ID = /^[A-Za-z0-9_.-]{1,100}$/;

const destinationSchema = z.object({
  id: z.string().regex(ID, { message: "use letters, digits, _ . - (at most 100)" }),
  type: z.enum(["webhook", "slack"]),
  url: z
    .string()
    .max(2000)
    .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), { message: "expected an http:// or https:// URL" }),
  /** Standard Webhooks secret: `whsec_` + base64 of the key bytes. */
  secret: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, { message: "expected whsec_ followed by base64" })
    .refine((s) => Buffer.from(s.slice("whsec_".length), "base64").length >= 16, { message: "the key must be at least 16 bytes" })
    .optional(),
});

const ruleSchema = z.object({
  on: z.array(z.enum(ALERT_EVENTS)).min(1),
  flows: z.array(z.string().min(1).max(200)).optional(),
  tags: z.record(z.string().max(200), z.string().max(500)).optional(),
  clients: z.array(z.string().min(1).max(100)).optional(),
  to: z.array(z.string().min(1).max(100)).min(1),
  /** At most one send per (rule, destination, flow) in this many seconds; the rest are THROTTLED. */
  throttleSeconds: z.number().int().min(0).max(7 * 24 * 3600).optional(),
});

export const alertsFileSchema = z
  .object({
    destinations: z.array(destinationSchema).max(100).default([]),
    rules: z.array(ruleSchema).max(1000).default([]),
  })
  .superRefine((f, ctx) => {
    const ids = new Set<string>();
    f.destinations.forEach((d, i) => {
      if (ids.has(d.id)) ctx.addIssue({ code: "custom", path: ["destinations", i, "id"], message: `duplicate destination id ${d.id}` });
      ids.add(d.id);
    });
    f.rules.forEach((r, i) =>
      r.to.forEach((to, j) => {
        if (!ids.has(to)) ctx.addIssue({ code: "custom", path: ["rules", i, "to", j], message: `no destination with id ${to}` });
      }),
    );
  });

export interface AlertDestination {
  id: string;
  type: "webhook" | "slack";
  url: string;
  /** The HMAC key (the bytes after whsec_), or null: sent unsigned. */
  key: Buffer | null;
}

export interface AlertRule {
  /** Its position in the file: part of its throttle bucket. */
  index: number;
  on: AlertEvent[];
  flows: string[] | null;
  tags: Record<string, string> | null;
  clients: string[] | null;
  to: string[];
  throttleSeconds: number;
}

export interface AlertsConfig {
  destinations: AlertDestination[];
  rules: AlertRule[];
}

export const NO_ALERTS: AlertsConfig = { destinations: [], rules: [] };

/**
 * The rule's tags as the file has them (validated): a null-prototype copy of the parsed JSON's
 * own keys, so a tag key such as __proto__ is plain data (zod's record output would drop it).
 */
function plainTags(tags: Record<string, string>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const k of Object.keys(tags)) out[k] = tags[k];
  return out;
}

export function parseAlertsFile(text: string, source: string): AlertsConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
  const parsed = alertsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${source}: invalid field ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return {
    destinations: parsed.data.destinations.map((d) => ({
      id: d.id,
      type: d.type,
      url: d.url,
      key: d.secret === undefined ? null : Buffer.from(d.secret.slice("whsec_".length), "base64"),
    })),
    rules: parsed.data.rules.map((r, index) => ({
      index,
      on: [...new Set(r.on)],
      flows: r.flows ?? null,
      tags: r.tags ? plainTags((raw as { rules: { tags: Record<string, string> }[] }).rules[index].tags) : null,
      clients: r.clients ?? null,
      to: [...new Set(r.to)],
      throttleSeconds: r.throttleSeconds ?? 0,
    })),
  };
}

/** The file's rules; a missing file is no rules (the file is optional), an invalid one an error. */
export function readAlertsFile(file: string): AlertsConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return NO_ALERTS;
    throw new Error(`${file}: cannot read the alerts file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseAlertsFile(text, file);
}

/**
 * The rules in force, swapped atomically on a valid edit; an invalid edit keeps them and is
 * remembered (the Alerts page shows it) until the next valid one.
 */
export class AlertRegistry {
  private config: AlertsConfig;
  private byEvent = new Map<string, AlertRule[]>();
  private destinationsById = new Map<string, AlertDestination>();
  loadError: string | null = null;
  loadedAt: number;

  constructor(
    config: AlertsConfig = NO_ALERTS,
    readonly file: string | null = null,
  ) {
    this.config = config;
    this.loadedAt = Date.now();
    this.index();
  }

  replace(config: AlertsConfig): void {
    this.config = config;
    this.loadError = null;
    this.loadedAt = Date.now();
    this.index();
  }

  rejected(message: string): void {
    this.loadError = message;
  }

  private index(): void {
    this.byEvent = new Map();
    for (const r of this.config.rules) {
      for (const e of r.on) {
        let list = this.byEvent.get(e);
        if (!list) this.byEvent.set(e, (list = []));
        list.push(r);
      }
    }
    this.destinationsById = new Map(this.config.destinations.map((d) => [d.id, d]));
  }

  get rules(): AlertRule[] {
    return this.config.rules;
  }
  get destinations(): AlertDestination[] {
    return this.config.destinations;
  }
  destination(id: string): AlertDestination | undefined {
    return this.destinationsById.get(id);
  }
  /** The rules listening to an event (cheap: no rule, no work). */
  rulesFor(event: string): readonly AlertRule[] {
    return this.byEvent.get(event) ?? [];
  }
  listens(event: string): boolean {
    return this.byEvent.has(event);
  }
}

/**
 * Re-reads the file when it changes (polling its mtime and size, like clients.json): a valid
 * edit replaces the rules, an invalid one is logged and remembered while the previous rules
 * stay in force. Returns the function that stops watching.
 */
export function watchAlertsFile(file: string, alerts: AlertRegistry, intervalMs = 1000): () => void {
  const listener = (cur: fs.Stats, prev: fs.Stats) => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
    try {
      alerts.replace(readAlertsFile(file));
      console.info(`[perfect] reloaded ${file}: ${alerts.rules.length} alert rule(s), ${alerts.destinations.length} destination(s)`);
    } catch (e) {
      alerts.rejected((e as Error).message);
      console.error(`[perfect] kept the previous alert rules: ${(e as Error).message}`);
    }
  };
  fs.watchFile(file, { interval: intervalMs, persistent: false }, listener);
  return () => fs.unwatchFile(file, listener);
}
