/**
 * Who may be served, judged before routing: the Host allow-list (a DNS-rebinding page reaches
 * the server under its own domain name, so its requests carry `Host: attacker.test` — refused)
 * and the loopback test of the socket's address (never a header) for the rule before setup.
 */
import os from "node:os";

/** Host names from PERFECT_ALLOWED_HOSTS (comma-separated); default: loopback names and this machine's own. `*`: any (no check). */
export function allowedHosts(env: Record<string, string | undefined> = process.env): Set<string> | null {
  const raw = env.PERFECT_ALLOWED_HOSTS?.trim();
  if (raw === "*") return null;
  const names = raw
    ? raw.split(",")
    : ["localhost", "127.0.0.1", "[::1]", os.hostname(), `${os.hostname()}.local`];
  return new Set(names.map((n) => n.trim().toLowerCase()).filter(Boolean));
}

/** The host name of a Host header without its port (`[::1]:3000` → `[::1]`), lower-cased. */
export function hostName(header: string | undefined | null): string | null {
  if (!header) return null;
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end < 0 ? null : h.slice(0, end + 1);
  }
  const colon = h.indexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

export function hostAllowed(header: string | undefined | null, allowed: Set<string> | null): boolean {
  if (allowed === null) return true;
  const name = hostName(header);
  return name !== null && allowed.has(name);
}

/** Whether a socket address is the machine itself: 127.0.0.0/8, ::1, or IPv4-mapped loopback. */
export function isLoopback(address: string | null | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase();
  if (a === "::1" || a === "0:0:0:0:0:0:0:1") return true;
  const v4 = a.startsWith("::ffff:") ? a.slice(7) : a;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
