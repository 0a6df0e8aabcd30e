/** A one-line progress bar on stderr when it is a terminal; silent otherwise (CI, pipes). */
export function progressBar(label: string, total: number): { update(done: number): void; done(): void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  const draw = (done: number) => {
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    const width = 30;
    const filled = Math.round(ratio * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(ratio * 100)}%`);
  };
  return {
    update(done) {
      const now = Date.now();
      if (!tty || now - last < 100) return;
      last = now;
      draw(done);
    },
    done() {
      if (tty) {
        draw(total);
        process.stderr.write('\n');
      }
    },
  };
}
