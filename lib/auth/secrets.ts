/**
 * Secrets at rest: passwords and API-token secrets are stored only as salted scrypt hashes
 * (node:crypto, asynchronous, so a login never blocks the event loop), compared in constant
 * time. Session ids and cached tokens are looked up by SHA-256 instead: they are 256 random
 * bits, so a fast hash is enough and a request costs no scrypt.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";

/** N = 2^15, r = 8, p = 1: about 32 MiB and tens of milliseconds per hash (OWASP's floor is 2^17 with r = 8 for passwords alone; tokens are random, and logins are rate-limited). */
export const SCRYPT = { N: 1 << 15, r: 8, p: 1, keyLen: 32, saltLen: 16 } as const;

function scrypt(secret: string, salt: Buffer, keyLen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(secret, salt, keyLen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

const maxmem = (N: number, r: number) => 128 * N * r * 2;

/** `scrypt$N$r$p$salt$hash` (base64url parts): the parameters travel with the hash, so they can be raised later. */
export async function hashSecret(secret: string, params: { N: number; r: number; p: number } = SCRYPT): Promise<string> {
  const salt = randomBytes(SCRYPT.saltLen);
  const key = await scrypt(secret, salt, SCRYPT.keyLen, { N: params.N, r: params.r, p: params.p, maxmem: maxmem(params.N, params.r) });
  return ["scrypt", params.N, params.r, params.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

/** Whether `secret` matches the stored hash; a malformed hash never matches (and still costs the same work). */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  const [kind, n, r, p, saltText, keyText] = parts;
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  const sane = parts.length === 6 && kind === "scrypt" && [N, R, P].every(Number.isSafeInteger) && N >= 2 && N <= 1 << 20 && R >= 1 && R <= 32 && P >= 1 && P <= 16;
  const salt = sane ? Buffer.from(saltText, "base64url") : randomBytes(SCRYPT.saltLen);
  const expected = sane ? Buffer.from(keyText, "base64url") : randomBytes(SCRYPT.keyLen);
  const params = sane ? { N, r: R, p: P } : SCRYPT;
  const key = await scrypt(secret, salt, expected.length || SCRYPT.keyLen, { ...params, maxmem: maxmem(params.N, params.r) });
  return sane && key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A hash of a secret nobody knows, computed once: a login for a username that does not exist
 * verifies against it, so it takes the same work as one that does (no user enumeration).
 */
let dummy: Promise<string> | null = null;
export function dummyHash(): Promise<string> {
  return (dummy ??= hashSecret(randomBytes(32).toString("base64url")));
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

/** `bytes` random bytes as base64url text. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** Constant-time equality of two strings (false for different lengths). */
export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
