import { setTimeout as sleep } from 'node:timers/promises';

/** How long the demo waits for the workers to finish one step. */
export const DEMO_WAIT_MS = 120_000;

/**
 * Asks `probe` every 200 ms until it answers something other than null, and returns that; past
 * `ms`, fails with the message `late()` gives (it may describe the state the wait ended in).
 */
export async function pollUntil<T>(probe: () => Promise<T | null>, late: () => string, ms = DEMO_WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(late());
    await sleep(200);
  }
}
