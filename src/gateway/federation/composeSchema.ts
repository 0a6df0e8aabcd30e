import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CompositionError, federationFiles } from './compose.ts';

/**
 * `npm run schema:compose [-- DIR]`: composes the subgraphs and writes the supergraph and each
 * subgraph's SDL under DIR (default schema/published), printing their paths; on a composition
 * error, prints every error and exits 1.
 */
const dir = resolve(process.argv[2] ?? 'schema/published');
try {
  for (const [path, sdl] of federationFiles()) {
    const out = `${dir}/${path}`;
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, sdl);
    console.log(out);
  }
} catch (error) {
  if (!(error instanceof CompositionError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
