import type pg from 'pg';
import type { Db, Reads } from '../kernel/transaction.ts';

interface Asked {
  text: string | pg.QueryConfig;
  values: unknown[] | undefined;
  resolve: (result: pg.QueryResult) => void;
  reject: (error: unknown) => void;
}

/**
 * One request's reads, sent together: the statements it asks before the event loop turns (the
 * DataLoaders of a page dispatch theirs in the ticks after the page's count is asked) go to one
 * connection of `pipelined` (a pool whose connections pipeline, `pipelinedPool`) in one write, and
 * their answers come back in order on it, instead of each statement taking a connection and a round
 * trip of its own. Each is still a statement of its own (its own implicit transaction and Sync): one
 * failing fails only its caller. Statements asked while a batch is in flight wait for its answers
 * and go out as the next batch, so a page takes as many round trips whatever its size or timing.
 * Made per request, so one request's slow statement never holds up another's. Text and a
 * QueryConfig only: no callbacks, cursors or COPY (pipelined connections refuse them).
 */
export function readsTogether(pipelined: pg.Pool): Reads {
  let asked: Asked[] | null = null;
  // The batch in flight: answered (never rejected) once its every statement is.
  let answering: Promise<void> = Promise.resolve();

  const send = () => {
    answering = sendBatch(asked!);
    asked = null;
  };

  const sendBatch = async (batch: Asked[]) => {
    let client: pg.PoolClient;
    try {
      client = await pipelined.connect();
    } catch (error) {
      for (const a of batch) a.reject(error);
      return;
    }
    let failed: Error | undefined;
    let stale = false;
    // Corked, the statements' messages leave in one write instead of one each. Each is written before
    // its function first waits, so inside the cork; one refused at once (a bad argument) fails alone.
    const { stream } = client.connection;
    stream.cork();
    const answers = batch.map(async (a) => {
      const text = named(a.text);
      try {
        a.resolve(await client.query(text, a.values));
      } catch (error) {
        // Prepared before a migration changed the shape of its result: PostgreSQL refuses the statement
        // (it never runs it), so it is asked again as a text, parsed afresh, and the connection holding
        // the stale statement is replaced.
        if (text !== a.text && (error as { code?: string }).code === RESULT_CHANGED_SHAPE) {
          stale = true;
          try {
            a.resolve(await client.query(a.text, a.values));
            return;
          } catch (again) {
            error = again;
          }
        }
        failed ??= error as Error;
        a.reject(error);
      }
    });
    stream.uncork();
    await Promise.all(answers);
    // As pg's own pool.query does: a connection that saw an error is closed, not reused.
    client.release(failed ?? stale);
  };

  const query = (text: string | pg.QueryConfig, values?: unknown[]) =>
    new Promise<pg.QueryResult>((resolve, reject) => {
      if (asked === null) {
        asked = [];
        // After this turn's ticks and promise jobs (DataLoader dispatches in a tick after a promise job),
        // and after the batch in flight is answered: the loaders waiting on its answers, which may
        // arrive in separate reads of the socket, dispatch in between and their statements go together.
        void answering.then(() => setImmediate(send));
      }
      asked.push({ text, values, resolve, reject });
    });
  return { query: query as Db['query'] };
}

/**
 * How many statement texts get a name; past this, a text is parsed each time, as before. The four
 * pages the bench measures use 19; the source holds about 500 statements in all, reads and writes.
 * A prepared statement holds about 35 KB of its backend's memory: at most some 17 MB a connection.
 */
export const NAMED_MAX = 500;
/** SQLSTATE feature_not_supported: "cached plan must not change result type". */
const RESULT_CHANGED_SHAPE = '0A000';
const names = new Map<string, string>();

/**
 * `text` as a named prepared statement, when it is a text without a name: each connection parses it
 * once and binds it after (pg keeps what each connection has parsed), so PostgreSQL no longer parses
 * and analyses it again each time. The name is the text's, the same on every connection of the
 * process. The plan is still made for each statement's values (`pipelinedPool`).
 */
function named(text: string | pg.QueryConfig): string | pg.QueryConfig {
  const sql = typeof text === 'string' ? text : text?.name === undefined ? text?.text : undefined;
  if (typeof sql !== 'string') return text;
  let name = names.get(sql);
  if (name === undefined) {
    if (names.size >= NAMED_MAX) return text;
    names.set(sql, (name = `read${names.size}`));
  }
  return typeof text === 'string' ? { name, text } : { ...text, name };
}
