/**
 * Who was last heard from, by the server's receipt time only (worker clocks may be skewed).
 * Kept in memory: after a restart nobody has been heard from yet, and everyone counts as last
 * seen at boot, so a restart never mass-fails healthy runs.
 */
export class LivenessTracker {
  private readonly seen = new Map<string, number>();
  private readonly persistedAt = new Map<string, number>();

  constructor(readonly bootTime: number) {}

  /** Records a sign of life; returns true when it is worth persisting (at most once a second). */
  touch(workerId: string, now: number): boolean {
    this.seen.set(workerId, now);
    const last = this.persistedAt.get(workerId) ?? 0;
    if (now - last < 1000) return false;
    this.persistedAt.set(workerId, now);
    return true;
  }

  /** Last receipt time, or boot time for a worker not heard from since the server started. */
  lastSeen(workerId: string | null): number {
    return (workerId && this.seen.get(workerId)) || this.bootTime;
  }

  /** Last receipt time observed in this process (no boot-time default): for display. */
  observed(workerId: string): number | undefined {
    return this.seen.get(workerId);
  }

  forget(workerId: string): void {
    this.seen.delete(workerId);
    this.persistedAt.delete(workerId);
  }

  /** How many workers are tracked (memory stays bounded: see Engine.forgetGoneWorkers). */
  get size(): number {
    return this.seen.size;
  }

  isOnline(workerId: string, now: number, timeoutMs: number): boolean {
    const t = this.seen.get(workerId);
    return t !== undefined && now - t <= timeoutMs;
  }
}
