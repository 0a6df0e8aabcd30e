import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { config } from '../config.ts';
import { createPool } from '../db/pool.ts';
import { personalDataKeys } from '../privacy/personalData.ts';
import { importRoster, RosterFileError } from './rosterImport.ts';
import { failRosterImport, insertRunningRosterImport, setRosterImportSha256, unitByCreditCode } from './store.ts';
import { progressBar } from '../progress.ts';
import { result as output, say } from '../cliOutput.ts';
import type { TextEncodingName } from '../csv.ts';

/**
 * `hub members import FILE`: streams the file into the roster import, with a progress bar on a
 * terminal. Exit code 0 = every row imported, 1 = some rows rejected (good rows kept), 2 = the
 * file could not be imported at all (nothing changed).
 */
export async function importRosterFile(path: string, unitCode?: string, encoding?: TextEncodingName): Promise<number> {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat?.isFile()) {
    console.error(`${path}: no such file`);
    return 2;
  }
  const cfg = config();
  const db = createPool({ max: 2 });
  try {
    let defaultUnitId: number | null = null;
    if (unitCode) {
      const unit = await unitByCreditCode(db, unitCode.trim().toUpperCase());
      if (!unit) {
        console.error(`--unit: no unit is registered with code ${unitCode}`);
        return 2;
      }
      defaultUnitId = unit.id;
    }
    const sha256 = createHash('sha256');
    const importId = await insertRunningRosterImport(db, { fileName: basename(path), defaultUnitId, createdBy: 'cli' });
    const bar = progressBar(basename(path), stat.size);
    let bytes = 0;
    const counting = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        sha256.update(chunk);
        bar.update(bytes);
        done(null, chunk);
      },
    });
    try {
      const result = await importRoster(db, personalDataKeys(cfg.PII_KEY, cfg.PII_HASH_KEY), createReadStream(path).pipe(counting), {
        importId, defaultUnitId, encoding,
      });
      bar.done();
      await setRosterImportSha256(db, importId, sha256.digest());
      for (const e of result.errors.slice(0, 50)) say(`row ${e.row}: ${e.field}: ${e.reason}`);
      if (result.errorCount > 50) say(`... ${result.errorCount - 50} more row errors (roster import ${importId})`);
      output({ importId, ...result });
      say(
        `rows ${result.rowsTotal}: inserted ${result.rowsInserted}, updated ${result.rowsUpdated}, ` +
          `unchanged ${result.rowsUnchanged}, rejected ${result.rowsRejected}; enrolments created ${result.enrolmentsCreated}`,
      );
      return result.rowsRejected ? 1 : 0;
    } catch (error) {
      bar.done();
      const message = error instanceof RosterFileError ? error.message : String(error);
      await failRosterImport(db, importId, message);
      // Anything but the file's own problem (a lost database) is the CLI's to explain (cliErrors.ts).
      if (!(error instanceof RosterFileError)) throw error;
      console.error(`${basename(path)}: ${message}; nothing was imported`);
      return 2;
    }
  } finally {
    await db.end();
  }
}
