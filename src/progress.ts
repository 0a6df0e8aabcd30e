/** How often a job's progress is announced to subscribers at most. */
export const PROGRESS_INTERVAL_MS = 250;

/** Says yes at most once every `ms`: progress reported from a loop is drawn or sent at a bounded rate. */
export function every(ms: number): () => boolean {
  let last = -Infinity;
  return () => {
    const now = Date.now();
    if (now - last < ms) return false;
    last = now;
    return true;
  };
}

/** A one-line progress bar on stderr when it is a terminal; silent otherwise (CI, pipes). */
export function progressBar(label: string, total: number): { update(done: number): void; done(): void } {
  const tty = process.stderr.isTTY;
  const due = every(100);
  const draw = (done: number) => {
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    const width = 30;
    const filled = Math.round(ratio * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(ratio * 100)}%`);
  };
  return {
    update(done) {
      if (tty && due()) draw(done);
    },
    done() {
      if (tty) {
        draw(total);
        process.stderr.write('\n');
      }
    },
  };
}
