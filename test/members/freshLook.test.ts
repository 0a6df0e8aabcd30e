import { describe, expect, it } from 'vitest';
import { freshLook } from '../../src/members/rosterEpoch.ts';

/** A look whose answers the test releases one at a time: answer n is n. */
function controlledLook() {
  const pending: ((n: number) => void)[] = [];
  let started = 0;
  let running = 0;
  let most = 0;
  const look = () => {
    started += 1;
    running += 1;
    most = Math.max(most, running);
    const n = started;
    return new Promise<number>((resolve) => pending.push(() => { running -= 1; resolve(n); }));
  };
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { look, release: async () => { pending.shift()!(0); await settle(); }, started: () => started, most: () => most, settle };
}

describe('freshLook: one look at a time, never an answer older than the call', () => {
  it('callers arriving during a look wait for the next one, which they share', async () => {
    const c = controlledLook();
    const current = freshLook(c.look);
    const first = current();
    const during = [current(), current(), current()];
    await c.settle();
    expect(c.started()).toBe(1); // the next look waits for the running one
    await c.release();
    expect(await first).toBe(1);
    expect(c.started()).toBe(2);
    const late = current(); // arrives during look 2: gets look 3, not 2
    await c.release();
    expect(await Promise.all(during)).toEqual([2, 2, 2]);
    await c.release();
    expect(await late).toBe(3);
    expect(c.most()).toBe(1);
  });

  it('a caller arriving when nothing runs starts a look at once', async () => {
    const c = controlledLook();
    const current = freshLook(c.look);
    const a = current();
    await c.release();
    expect(await a).toBe(1);
    const b = current();
    expect(c.started()).toBe(2);
    await c.release();
    expect(await b).toBe(2);
  });

  it('a failed look fails its callers only; the next callers get a new look', async () => {
    let fail = true;
    const current = freshLook(async () => {
      if (fail) throw new Error('database down');
      return 7;
    });
    await expect(current()).rejects.toThrow('database down');
    fail = false;
    expect(await current()).toBe(7);
  });
});
