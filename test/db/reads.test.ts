import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { pipelinedPool } from '../../src/db/pool.ts';
import { NAMED_MAX, readsTogether } from '../../src/db/reads.ts';

/**
 * A request's reads asked before the event loop turns go out together: on one connection, in one
 * write, each still a statement of its own; two requests never share a batch.
 */

let db: TestDatabase;
let pipelined: pg.Pool;

beforeAll(async () => {
  db = await freshDatabase();
  pipelined = pipelinedPool(db.pool);
});
afterAll(async () => {
  await pipelined?.end();
  await db?.drop();
});

const pidAnd = (reads: ReturnType<typeof readsTogether>, n: number) =>
  reads.query<{ pid: number; n: number }>('SELECT pg_backend_pid() AS pid, $1::int AS n', [n]).then((r) => r.rows[0]!);

/** The writes each connection of `pool` makes to its socket while `work` runs (a corked burst is one). */
async function writesDuring<T>(pool: pg.Pool, work: () => Promise<T>): Promise<{ result: T; writes: number }> {
  let writes = 0;
  type Writer = Record<'_write' | '_writev', ((...a: unknown[]) => unknown) | undefined>;
  // Each counted socket, with what puts its methods back: the connection goes on serving later tests.
  const counted = new Map<Writer, () => void>();
  const onAcquire = (client: pg.PoolClient) => {
    const stream = client.connection.stream as unknown as Writer;
    if (counted.has(stream)) return;
    counted.set(stream, () => {
      delete stream._write;
      delete stream._writev;
    });
    for (const method of ['_write', '_writev'] as const) {
      const original = stream[method];
      if (!original) continue;
      stream[method] = function (this: unknown, ...args: unknown[]) {
        writes += 1;
        return original.apply(this, args);
      };
    }
  };
  pool.on('acquire', onAcquire);
  try {
    return { result: await work(), writes };
  } finally {
    pool.off('acquire', onAcquire);
    for (const restore of counted.values()) restore();
  }
}

describe('reads sent together', () => {
  it("sends the statements asked before the event loop turns on one connection, in one write, each answered with its own rows", async () => {
    const reads = readsTogether(pipelined);
    await pidAnd(reads, 0); // the connection is made before counting
    const { result: answers, writes } = await writesDuring(pipelined, () => Promise.all([1, 2, 3, 4, 5].map((n) => pidAnd(reads, n))));
    expect(answers.map((a) => a.n)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(answers.map((a) => a.pid)).size).toBe(1);
    expect(writes).toBe(1);
  });

  it('fails only the statement that failed; the connection that saw it is not used again', async () => {
    const reads = readsTogether(pipelined);
    const asked = [pidAnd(reads, 1), reads.query('SELECT 1 / $1::int AS x', [0]), pidAnd(reads, 3)];
    const [first, failed, third] = await Promise.allSettled(asked);
    expect(failed).toMatchObject({ status: 'rejected', reason: { message: 'division by zero' } });
    expect(first).toMatchObject({ status: 'fulfilled', value: { n: 1 } });
    expect(third).toMatchObject({ status: 'fulfilled', value: { n: 3 } });
    const pidOfFailed = (first as PromiseFulfilledResult<{ pid: number }>).value.pid;
    const later = await Promise.all([1, 2].map((n) => pidAnd(reads, n)));
    expect(later.map((a) => a.pid)).not.toContain(pidOfFailed);
  });

  it('fails a statement pg refuses before sending alone, and still answers the others', async () => {
    const reads = readsTogether(pipelined);
    const refused = reads.query(null as unknown as string);
    const [answer] = await Promise.all([pidAnd(reads, 7), expect(refused).rejects.toThrow(/null or undefined/)]);
    expect(answer.n).toBe(7);
    expect((await pidAnd(reads, 8)).n).toBe(8);
  });

  it("keeps two requests' reads apart, even when asked at the same moment", async () => {
    const [mine, theirs] = [readsTogether(pipelined), readsTogether(pipelined)];
    const [a, b] = await Promise.all([pidAnd(mine, 1), pidAnd(theirs, 2)]);
    expect([a.n, b.n]).toEqual([1, 2]);
    expect(a.pid).not.toBe(b.pid);
  });

  it('sends the statements asked while a batch is answered together once it is, however its answers arrive', async () => {
    const reads = readsTogether(pipelined);
    await pidAnd(reads, 0);
    // The first answer comes at once, the second later (the server sleeps between them): each asks a statement on arrival.
    const { result, writes } = await writesDuring(pipelined, () => Promise.all([
      pidAnd(reads, 1).then(() => pidAnd(reads, 3)),
      reads.query('SELECT pg_sleep(0.05)').then(() => pidAnd(reads, 4)),
    ]));
    expect(result.map((a) => a.n)).toEqual([3, 4]);
    expect(result[0]!.pid).toBe(result[1]!.pid);
    expect(writes).toBe(2);
  });

  it('sends statements asked after an answer in a batch of their own', async () => {
    const reads = readsTogether(pipelined);
    const { writes } = await writesDuring(pipelined, async () => {
      await pidAnd(reads, 1);
      await pidAnd(reads, 2);
    });
    expect(writes).toBe(2);
  });
});

describe('statements prepared once a connection', () => {
  it('parses a text once on a connection: later it is bound to the statement prepared the first time, and planned for its values each time', async () => {
    const one = pipelinedPool(new pg.Pool({ ...db.pool.options, max: 1 }));
    try {
      const text = 'SELECT $1::int + 1 AS n -- prepared once';
      const answers = [];
      for (const n of [1, 2, 3, 4, 5, 6, 7]) answers.push((await readsTogether(one).query<{ n: number }>(text, [n])).rows[0]!.n);
      // Twice more in one batch, the first of them on a new text.
      const other = 'SELECT $1::int * 2 AS n -- prepared once';
      const batch = readsTogether(one);
      answers.push(...(await Promise.all([batch.query<{ n: number }>(other, [5]), batch.query<{ n: number }>(other, [6])])).map((r) => r.rows[0]!.n));
      expect(answers).toEqual([2, 3, 4, 5, 6, 7, 8, 10, 12]);
      const { rows } = await readsTogether(one).query(
        `SELECT name, statement, generic_plans AS generic, custom_plans AS custom FROM pg_prepared_statements WHERE statement LIKE '%-- prepared once' ORDER BY statement DESC`,
      );
      // Past five runs PostgreSQL would switch to one generic plan for all values; these stay planned for each.
      expect(rows).toEqual([
        { name: expect.stringMatching(/^read\d+$/), statement: text, generic: 0, custom: 7 },
        { name: expect.stringMatching(/^read\d+$/), statement: other, generic: 0, custom: 2 },
      ]);
    } finally {
      await one.end();
    }
  });

  it("answers a statement prepared before a migration changed its result's shape, on a connection then replaced", async () => {
    const one = pipelinedPool(new pg.Pool({ ...db.pool.options, max: 1 }));
    try {
      await db.pool.query(`CREATE TABLE reshaped (id int)`);
      await db.pool.query(`INSERT INTO reshaped VALUES (1)`);
      const text = 'SELECT * FROM reshaped WHERE id = $1';
      const ask = () => {
        const reads = readsTogether(one);
        return Promise.all([reads.query(text, [1]), pidAnd(reads, 0)]);
      };
      const [before, { pid }] = await ask();
      expect(before.rows).toEqual([{ id: 1 }]);
      // A migration while the gateway runs: the statement prepared on that connection now returns another shape.
      await db.pool.query(`ALTER TABLE reshaped ADD COLUMN note text DEFAULT 'added'`);
      const [after, same] = await ask();
      expect(after.rows).toEqual([{ id: 1, note: 'added' }]);
      expect(same.pid).toBe(pid);
      // The connection holding the stale statement is not used again; the next one prepares the new shape.
      const [again, next] = await ask();
      expect(again.rows).toEqual([{ id: 1, note: 'added' }]);
      expect(next.pid).not.toBe(pid);
    } finally {
      await one.end();
      await db.pool.query(`DROP TABLE IF EXISTS reshaped`);
    }
  });

  it(`names at most ${NAMED_MAX} texts: past them a text is parsed each time, as before, and still answered`, async () => {
    const one = pipelinedPool(new pg.Pool({ ...db.pool.options, max: 1 }));
    try {
      const reads = readsTogether(one);
      const texts = Array.from({ length: NAMED_MAX + 10 }, (_, i) => `SELECT ${i}::int AS n -- one of many`);
      const answers = await Promise.all(texts.map((text) => reads.query<{ n: number }>(text)));
      expect(answers.map((r) => r.rows[0]!.n)).toEqual(texts.map((_, i) => i));
      const { rows } = await readsTogether(one).query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_prepared_statements`);
      expect(rows[0]!.n).toBeLessThanOrEqual(NAMED_MAX);
      expect(rows[0]!.n).toBeGreaterThan(NAMED_MAX - 20);
    } finally {
      await one.end();
    }
  });
});
