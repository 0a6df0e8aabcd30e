/** Milliseconds spent per named step of an ingest or a run, added up over its chunks (benchmarks read them). */
export type StepTimes = Record<string, number>;

/**
 * Rows a step changes at once from which the planner is told (ANALYZE) before the steps after it
 * plan their queries: a large statement's entries, a run's settled payouts.
 */
export const ANALYZE_AFTER = 10_000;

/** `work`, its time added to `steps[step]` when `steps` is given. */
export async function timed<T>(steps: StepTimes | undefined, step: string, work: () => T | Promise<T>): Promise<T> {
  if (!steps) return work();
  const started = performance.now();
  try {
    return await work();
  } finally {
    steps[step] = (steps[step] ?? 0) + performance.now() - started;
  }
}
