import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Migrations are forward-only: one that may have been applied anywhere is never edited, since a
 * database that already ran it would never see the edit. Each migration's SHA-256 is committed in
 * test/db/migrations.sha256; a change to the schema is a new migration with a new line there.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const LIST = 'test/db/migrations.sha256';
const DIR = 'src/db/migrations';

/** The committed list: file path (from the repository root) -> hex SHA-256. */
function committed(): Map<string, string> {
  const lines = readFileSync(`${root}${LIST}`, 'utf8').split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
  return new Map(lines.map((line) => {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!match) throw new Error(`${LIST}: not a line of sha256sum: ${line}`);
    return [match[2]!, match[1]!];
  }));
}

describe('migration checksums', () => {
  it('every migration is the one committed in test/db/migrations.sha256', () => {
    const list = committed();
    const files = readdirSync(`${root}${DIR}`).sort().map((name) => `${DIR}/${name}`);
    for (const file of files) {
      const sha256 = createHash('sha256').update(readFileSync(`${root}${file}`)).digest('hex');
      const expected = list.get(file);
      expect(expected, `${file} has no line in ${LIST}: a new migration adds one (sha256sum ${file} >> ${LIST})`).toBeDefined();
      expect(sha256, `${file} was edited after it was released: migrations are never edited, add a new one instead`).toBe(expected);
    }
    expect([...list.keys()].filter((file) => !files.includes(file)), `listed in ${LIST} but gone: a released migration is never deleted`).toEqual([]);
  });
});
