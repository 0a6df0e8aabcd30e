/** Milliseconds spent per named step of an ingest or a run, added up over its chunks (benchmarks read them). */
export type StepTimes = Record<string, number>;

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
