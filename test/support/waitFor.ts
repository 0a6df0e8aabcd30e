import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `probe` until it returns a value (anything but false, null or undefined: a row, a count,
 * true), or fails after `timeoutMs` naming `what` it waited for. For work another process or
 * worker does (a job, a subscription, a metric): the test states what it waits for, never how
 * long it sleeps.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | false | null | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== false && value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
