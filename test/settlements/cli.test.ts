import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localId } from '../../src/gateway/globalId.ts';
import { simulatedItems } from '../../src/settlements/simulator/generate.ts';
import { lazyTestGateway, TEST_REDIS_URL } from '../support/gateway.ts';
import { hub } from '../support/hub.ts';
import { sampleRegistry, simData } from './support.ts';

/** `hub settlements import` stores settlements as an upload through the API does: audited, with its counts. */

const gateway = lazyTestGateway({ RATE_LIMIT_POINTS: '0' });
const work = mkdtempSync(join(tmpdir(), 'hub-settlements-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const settlements = [...simulatedItems(simData(sampleRegistry(4), 40))].filter((i) => i.truth.kind === 'SETTLEMENT').slice(0, 5);
const jsonl = (items: typeof settlements) => items.map((i) => JSON.stringify(i.item)).join('\n') + '\n';

describe('hub settlements import', () => {
  it('records the same audit entry as an upload through the API (settlements.upload), under cli', async () => {
    const { db, gw } = await gateway();
    const uploaded = await gw.query(
      { role: 'ADMIN', sub: 'admin-li' },
      `mutation($c: String!) { uploadSettlements(input: { fileName: "api.jsonl", content: $c }) { run { id } userErrors { field code message } } }`,
      { c: jsonl(settlements.slice(0, 2)) },
    );
    expect(uploaded.data.uploadSettlements.userErrors).toEqual([]);
    const apiRun = localId('id', uploaded.data.uploadSettlements.run.id, 'SettlementIngestionRun');

    writeFileSync(join(work, 'cli.jsonl'), jsonl(settlements.slice(2)));
    const imported = await hub(['settlements', 'import', join(work, 'cli.jsonl'), '--json'], {
      DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`, LOG_LEVEL: 'silent',
    });
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ received: 3, inserted: 3, duplicates: 0, rejected: 0 });
    const { rows: [cliRun] } = await db.pool.query<{ id: number }>(`SELECT id FROM settlement_runs WHERE file_name = 'cli.jsonl'`);

    const { rows } = await db.pool.query(`SELECT actor, role, target_type, target_id, details FROM audit_log WHERE action = 'settlements.upload' ORDER BY seq`);
    expect(rows).toEqual([
      {
        actor: 'admin-li', role: 'ADMIN', target_type: 'SettlementIngestionRun', target_id: String(apiRun),
        details: { source: 'upload', fileName: 'api.jsonl', received: 2, inserted: 2, duplicates: 0, rejected: 0 },
      },
      {
        actor: 'cli', role: 'SERVICE', target_type: 'SettlementIngestionRun', target_id: String(cliRun!.id),
        details: { source: 'file', fileName: 'cli.jsonl', received: 3, inserted: 3, duplicates: 0, rejected: 0 },
      },
    ]);
  });
});

describe('hub settlements source', () => {
  it('records each registration and change under cli (settlements.source), with the source before and after', async () => {
    const { db } = await gateway();
    const env = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`, LOG_LEVEL: 'silent' };
    const registered = await hub(['settlements', 'source', 'city', '--url', 'https://platform.example/settlements', '--every', '60', '--page-size', '200'], env);
    expect(registered.code, registered.stderr).toBe(0);
    // Pulled so far: a new endpoint starts again from the beginning.
    await db.pool.query(`UPDATE settlement_sources SET cursor = 'page-7' WHERE name = 'city'`);
    const moved = await hub(['settlements', 'source', 'city', '--url', 'https://elsewhere.example/settlements', '--every', '60', '--page-size', '200'], env);
    expect(moved.code, moved.stderr).toBe(0);

    const { rows } = await db.pool.query(`SELECT actor, role, target_type, target_id, details FROM audit_log WHERE action = 'settlements.source' ORDER BY seq`);
    const city = { kind: 'PLATFORM', pageSize: 200, pollSeconds: 60, enabled: true };
    const first = { ...city, endpoint: 'https://platform.example/settlements', cursor: null };
    expect(rows).toEqual([
      { actor: 'cli', role: 'SERVICE', target_type: 'SettlementSource', target_id: 'city', details: { before: null, after: first } },
      {
        actor: 'cli', role: 'SERVICE', target_type: 'SettlementSource', target_id: 'city',
        details: { before: { ...first, cursor: 'page-7' }, after: { ...city, endpoint: 'https://elsewhere.example/settlements', cursor: null } },
      },
    ]);
  });
});
