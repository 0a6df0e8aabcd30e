import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { publishedSchema } from './federation/compose.ts';

/** `npm run schema:print [-- FILE]`: writes the published SDL (default dist/schema.graphql) and prints its path. */
const out = resolve(process.argv[2] ?? 'dist/schema.graphql');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, publishedSchema());
console.log(out);
