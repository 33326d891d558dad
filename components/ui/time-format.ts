/** Human formats for durations and times; numbers are rendered in the monospace face. */

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const v = Math.max(ms, 0);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)} s`;
  if (v < 3_600_000) {
    const m = Math.floor(v / 60_000);
    return `${m} min ${Math.floor((v % 60_000) / 1000)} s`;
  }
  const h = Math.floor(v / 3_600_000);
  return `${h} h ${Math.floor((v % 3_600_000) / 60_000)} min`;
}

/** Seconds granularity for countdowns ("12 s", "3 min 4 s"). */
export function formatSeconds(ms: number): string {
  const s = Math.max(Math.round(ms / 1000), 0);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function formatAgo(iso: string | null, now: number): string {
  if (!iso) return "never";
  if (!now) return "";
  const s = Math.max(Math.floor((now - Date.parse(iso)) / 1000), 0);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Local "YYYY-MM-DD HH:MM:SS". */
export function formatDateTime(iso: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatClock(iso: string | number | null): string {
  if (iso === null) return "—";
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatClockMs(iso: string): string {
  const d = new Date(iso);
  return `${formatClock(iso)}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

export function formatPercent(p: number): string {
  return `${Math.floor(Math.min(Math.max(p, 0), 1) * 100)}%`;
}

/** The same instant in UTC, "YYYY-MM-DD HH:MM:SS UTC": the title of a local time. */
export function formatUtc(iso: string | null): string {
  const d = iso ? new Date(iso) : null;
  if (!d || Number.isNaN(d.getTime())) return "—";
  const s = d.toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 19)} UTC`;
}

/** Local "HH:MM" on the same day as `now`, else "MM-DD HH:MM": a compact "next run at". */
export function formatShortTime(iso: string, now: number): string {
  const d = new Date(iso);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const today = new Date(now || Date.now());
  const sameDay = d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() && d.getDate() === today.getDate();
  return sameDay ? hm : `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

/** ISO → the local "YYYY-MM-DDTHH:mm" a datetime-local input shows. */
export function toLocalInput(iso: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (local time) → ISO; `endOfMinute` includes the whole minute shown. */
export function fromLocalInput(v: string, endOfMinute = false): string {
  if (!v) return "";
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return "";
  if (endOfMinute) d.setSeconds(59, 999);
  return d.toISOString();
}
