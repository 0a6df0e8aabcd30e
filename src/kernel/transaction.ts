import type pg from 'pg';

declare const inTransaction: unique symbol;

/** The database pool: reads that need no lock, and the way into a transaction (src/db/pool.ts `inTransaction`). */
export type Db = pg.Pool;

/**
 * A connection inside BEGIN … COMMIT. Store functions that lock rows or must commit together with
 * others take a `Tx`, so a pool (which runs each statement in a transaction of its own) cannot reach them.
 */
export type Tx = pg.PoolClient & { readonly [inTransaction]: true };

/** Reads that need no lock and no transaction: `query` alone (a request's reads sent together, src/db/reads.ts). */
export type Reads = Pick<Db, 'query'>;

/** Reads that need no lock take any. */
export type Queryable = Db | Tx | Reads;
