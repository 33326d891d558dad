/** Server configuration from the environment, validated once at start. */
import { z } from "zod";

const ms = (def: number) => z.coerce.number().int().positive().default(def);

export const configSchema = z.object({
  PERFECT_DB_PATH: z.string().min(1).default("data/perfect.db"),
  /** postgres://user:pass@host:port/db selects PostgreSQL; unset, SQLite at PERFECT_DB_PATH. */
  PERFECT_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { message: "expected a postgres:// URL" })
    .optional(),
  PERFECT_CLIENTS_FILE: z.string().min(1).default("clients.json"),
  PERFECT_HEARTBEAT_TIMEOUT_MS: ms(15_000),
  PERFECT_LONG_POLL_MS: ms(25_000),
  /** Schedules: a fire time older than this when reached was missed (catch-up); a scheduled run waiting longer is late. */
  PERFECT_SCHEDULE_GRACE_MS: ms(30_000),
  /** Alert destinations and rules (optional: no file, no alerts). */
  PERFECT_ALERTS_FILE: z.string().min(1).default("alerts.json"),
  /** The server's address as people reach it: the base of links in alerts. */
  PERFECT_PUBLIC_URL: z
    .string()
    .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), { message: "expected an http:// or https:// URL" })
    .optional(),
  PORT: z.string().optional(),
});

export interface ServerConfig {
  dbPath: string;
  databaseUrl: string | null;
  clientsFile: string;
  heartbeatTimeoutMs: number;
  longPollMs: number;
  scheduleGraceMs: number;
  alertsFile: string;
  /** PERFECT_PUBLIC_URL, else http://localhost:PORT. */
  publicUrl: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid configuration: ${issue.path.join(".")}: ${issue.message}`);
  }
  const c = parsed.data;
  return {
    dbPath: c.PERFECT_DB_PATH,
    databaseUrl: c.PERFECT_DATABASE_URL ?? null,
    clientsFile: c.PERFECT_CLIENTS_FILE,
    heartbeatTimeoutMs: c.PERFECT_HEARTBEAT_TIMEOUT_MS,
    longPollMs: c.PERFECT_LONG_POLL_MS,
    scheduleGraceMs: c.PERFECT_SCHEDULE_GRACE_MS,
    alertsFile: c.PERFECT_ALERTS_FILE,
    publicUrl: (c.PERFECT_PUBLIC_URL ?? `http://localhost:${c.PORT || 3000}`).replace(/\/+$/, ""),
  };
}
