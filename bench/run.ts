/**
 * `npm run bench [-- NAME...]`: runs every benchmark in bench/ (or those named), one after the
 * other in its own process, so each prints its figures without disturbing the next.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();

let failed = 0;
for (const file of benches) {
  console.log(`\n== ${file}`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', `${dir}/${file}`], { stdio: 'inherit', env: { LOG_LEVEL: 'warn', NODE_ENV: 'development', ...process.env } });
  if (run.status !== 0) failed += 1;
}
process.exit(failed ? 1 : 0);
