/**
 * Waiting in tests: on an outcome, with a generous bound, never on a guess of how long
 * something takes. A slow machine makes a wait longer, never a test red.
 */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Probes every 100 ms until `probe` returns something truthy (returned) or `timeoutMs` passes
 * (an error naming `what`). A probe that throws counts as "not yet" — servers are killed and
 * restarted under these tests — and its last error is in the timeout's message.
 */
export async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message ?? String(lastError)})` : ""}`);
    }
    await sleep(100);
  }
}
