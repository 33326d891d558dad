/**
 * Runs once when the server starts: opens and migrates the database, loads clients.json and
 * starts the monitor, so a bad configuration stops the server at once with a clear message.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { getEngine } = await import("./lib/engine");
    try {
      getEngine();
    } catch (e) {
      console.error(`[perfect] cannot start: ${(e as Error).message}`);
      process.exit(1);
    }
  }
}
