/**
 * The client registry file (clients.json): validated with zod; an invalid file is an error that
 * names the field. Tokens are compared in constant time.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { z } from "zod";
import { SENSITIVITIES, type Sensitivity } from "./domain/states";

export const clientsFileSchema = z.object({
  clients: z
    .array(
      z.object({
        id: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, { message: "use letters, digits, _ . - (at most 100)" }),
        name: z.string().min(1).max(200),
        performanceSensitivity: z.enum(SENSITIVITIES).default("normal"),
        token: z.string().min(1).max(500),
        /** Token rotation: the old token stays accepted while it is listed here. */
        previousToken: z.string().min(1).max(500).optional(),
      }),
    )
    .min(1)
    .refine((cs) => new Set(cs.map((c) => c.id)).size === cs.length, { message: "client ids must be unique" }),
});

export interface ClientConfig {
  id: string;
  name: string;
  sensitivity: Sensitivity;
  tokenDigest: Buffer;
  /** The digest of `previousToken`, accepted as well during a rotation. */
  previousTokenDigest: Buffer | null;
  devToken: boolean;
}

export function parseClientsFile(text: string, source: string): ClientConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
  const parsed = clientsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${source}: invalid field ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data.clients.map((c) => ({
    id: c.id,
    name: c.name,
    sensitivity: c.performanceSensitivity,
    tokenDigest: digest(c.token),
    previousTokenDigest: c.previousToken === undefined ? null : digest(c.previousToken),
    devToken: c.token === "dev-token" || c.previousToken === "dev-token",
  }));
}

export function readClientsFile(file: string): ClientConfig[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`${file}: cannot read the clients file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseClientsFile(text, file);
}

function digest(token: string): Buffer {
  return crypto.createHash("sha256").update(token, "utf8").digest();
}

/** Compared against when there is no token to compare with: never matches a real digest input. */
const NO_CLIENT = digest("\u0000no-such-client");

/** In-memory registry; reload() swaps the set atomically (a file change needs no restart). */
export class ClientRegistry {
  private byId = new Map<string, ClientConfig>();

  constructor(clients: ClientConfig[]) {
    this.replace(clients);
  }

  replace(clients: ClientConfig[]): void {
    this.byId = new Map(clients.map((c) => [c.id, c]));
  }

  get(id: string): ClientConfig | undefined {
    return this.byId.get(id);
  }

  all(): ClientConfig[] {
    return [...this.byId.values()];
  }

  sensitivity(id: string): Sensitivity {
    return this.byId.get(id)?.sensitivity ?? "normal";
  }

  /**
   * Constant-time: hashing both sides makes the comparison length-independent too, and both
   * the current and the previous token are always compared, so timing tells nothing either.
   */
  authenticate(id: string, token: string | null): boolean {
    const c = this.byId.get(id);
    const given = digest(token ?? "");
    const current = crypto.timingSafeEqual(given, c?.tokenDigest ?? NO_CLIENT);
    const previous = crypto.timingSafeEqual(given, c?.previousTokenDigest ?? NO_CLIENT);
    return !!c && token !== null && (current || previous);
  }
}
