/**
 * Runs once when the server starts: opens and migrates the database, loads clients.json and
 * starts the monitor, so a bad configuration stops the server at once with a clear message.
 * Then it puts the front door (lib/api/front-door.ts) in front of Next's request handling, with
 * the worker lane (lib/api/worker-lane.ts) serving the worker protocol there.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { getEngine, startEngine } = await import("./lib/server");
    const { FrontDoor, installFrontDoor } = await import("./lib/api/front-door");
    const { limits } = await import("./lib/api/limits");
    const { accessOf } = await import("./lib/auth/access");
    const { pageAccess } = await import("./lib/auth/page-gate");
    const { workerLane } = await import("./lib/api/worker-lane");
    try {
      await startEngine();
      // The worker protocol is answered by the front door itself unless PERFECT_WORKER_LANE=0.
      const lane = process.env.PERFECT_WORKER_LANE === "0" ? undefined : workerLane(getEngine);
      installFrontDoor(new FrontDoor(limits(), () => getEngine().clients, Date.now, (r) => pageAccess(accessOf(getEngine()), r)), lane);
    } catch (e) {
      console.error(`[perfect] cannot start: ${(e as Error).message}`);
      process.exit(1);
    }
  }
}
