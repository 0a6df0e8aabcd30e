import { describe, expect, it } from 'vitest';
import { idBatches } from '../../src/queues.ts';
import { matchJobs, MATCH_JOB_SETTLEMENTS } from '../../src/settlements/queue.ts';
import { adjudicationJobs, ADJUDICATION_JOB_SETTLEMENTS } from '../../src/benefits/queue.ts';

describe('jobs that carry a batch of row ids', () => {
  it('cuts ids into ascending batches of at most the size, each id once', () => {
    const ids = [9, 3, 7, 3, 1, 12, 5, 9];
    const batches = idBatches('k', ids, 2);
    expect(batches.map((b) => b.ids)).toEqual([[1, 3], [5, 7], [9, 12]]);
    expect(batches.flatMap((b) => b.ids).sort((a, b) => a - b)).toEqual([...new Set(ids)].sort((a, b) => a - b));
  });

  it('names one row by its id, and a batch so the same set gets the same id and another set another', () => {
    expect(idBatches('settlement-match', [42], 10)).toEqual([{ jobId: 'settlement-match-42', ids: [42] }]);
    const [a] = idBatches('k', [1, 2, 3], 10);
    const [again] = idBatches('k', [3, 1, 2, 2], 10);
    // Same first and last id, another set in between: not the same job.
    const [other] = idBatches('k', [1, 3], 10);
    expect(again!.jobId).toBe(a!.jobId);
    expect(a!.jobId).toMatch(/^k-1-3-[0-9a-f]{16}$/);
    expect(other!.jobId).toMatch(/^k-1-3-/);
    expect(other!.jobId).not.toBe(a!.jobId);
  });

  it('match and adjudication jobs carry one transaction of their step each', () => {
    const ids = Array.from({ length: 1234 }, (_, i) => 1000 + i);
    const match = matchJobs(ids);
    const adjudication = adjudicationJobs(ids);
    expect(match.map((b) => b.ids.length)).toEqual([MATCH_JOB_SETTLEMENTS, MATCH_JOB_SETTLEMENTS, 1234 - 2 * MATCH_JOB_SETTLEMENTS]);
    expect(adjudication).toHaveLength(Math.ceil(1234 / ADJUDICATION_JOB_SETTLEMENTS));
    expect(new Set([...match, ...adjudication].map((b) => b.jobId)).size).toBe(match.length + adjudication.length);
    expect(idBatches('k', [], 10)).toEqual([]);
  });
});
