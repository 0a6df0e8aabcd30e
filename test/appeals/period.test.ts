import { describe, expect, it, vi } from 'vitest';
import { lazyTestGateway } from '../support/gateway.ts';
import { decidedClaim, FILE_APPEAL, memberToken } from './support.ts';
import { appealDeadline, appealLastDay } from '../../src/appeals/model.ts';

/**
 * The appeal period (复核申请期限, "可自核定之日起60日内") counted as the Civil Code counts a period
 * in days: from the day after the decision's China date, to 24:00 China time of its 60th day (art.
 * 201); a last day that is a weekend or a configured holiday (PROMISE_HOLIDAYS) moves to the next
 * working day (art. 203). Through the API, with the gateway's clock set to the filing's hour.
 */

// 2025 国庆 and 中秋 as the union would configure them (10-04 and 10-05 are a weekend); 2025-05-02 is left a working day here.
const HOLIDAYS = '2025-10-01,2025-10-02,2025-10-03,2025-10-06,2025-10-07,2025-10-08';
const started = lazyTestGateway({ APPEAL_PERIOD_DAYS: '60', PROMISE_HOLIDAYS: HOLIDAYS });

/** A member's REJECTED claim, decided at `decidedAt` (ISO 8601 with +08:00). */
async function claimDecidedAt(decidedAt: string) {
  const { db, gw } = await started();
  const claim = await decidedClaim(db.pool, gw, 'REJECTED');
  await db.pool.query('UPDATE claims SET decided_at = $2 WHERE id = $1', [claim.claimId, decidedAt]);
  return claim;
}

/** fileAppeal as the member, with the gateway's clock at `now` (ISO 8601 with +08:00). */
async function fileAt(now: string, claim: Awaited<ReturnType<typeof claimDecidedAt>>) {
  const { gw } = await started();
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, now: new Date(now) });
  try {
    const answer = await gw.query(memberToken(claim.member), FILE_APPEAL, { input: { claimId: claim.claimGid, reason: '出院小结已补交 discharge summary attached' } });
    expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
    return answer.data.fileAppeal;
  } finally {
    vi.useRealTimers();
  }
}

async function appealableUntil(claim: Awaited<ReturnType<typeof claimDecidedAt>>): Promise<string> {
  const { gw } = await started();
  const answer = await gw.query(memberToken(claim.member), 'query($id: ID!) { node(id: $id) { ... on Claim { appealableUntil } } }', { id: claim.claimGid });
  return answer.data.node.appealableUntil;
}

describe('the appeal period of a claim decided on 2025-03-03 at 16:00 China time', () => {
  it('takes an appeal on its 60th day, 2025-05-02, at 23:30 China time (after the hour of the decision)', async () => {
    const claim = await claimDecidedAt('2025-03-03T16:00:00+08:00');
    const filed = await fileAt('2025-05-02T23:30:00+08:00', claim);
    expect(filed.userErrors).toEqual([]);
    expect(filed.appeal.status).toBe('OPEN');
    // appealableUntil shows the same rule: 24:00 China time of 2025-05-02.
    expect(await appealableUntil(claim)).toBe(new Date('2025-05-03T00:00:00+08:00').toISOString());
  });

  it('refuses one on the 61st day at 00:10 China time, naming the last day as a China date', async () => {
    const claim = await claimDecidedAt('2025-03-03T16:00:00+08:00');
    const late = await fileAt('2025-05-03T00:10:00+08:00', claim);
    expect(late.appeal).toBeNull();
    expect(late.userErrors).toEqual([expect.objectContaining({ field: 'input.claimId', code: 'CONFLICT' })]);
    const { message } = late.userErrors[0];
    expect(message).toContain('APPEAL_PERIOD_DAYS: 60 days');
    expect(message).toContain('decision on 2025-03-03');
    expect(message).toContain('ended at the end of 2025-05-02 (24:00 China time)');
    expect(message).not.toMatch(/\d{4}-\d{2}-\d{2}T/); // no UTC instant
  });
});

describe('an appeal period whose 60th day is a holiday (PROMISE_HOLIDAYS)', () => {
  // Decided 2025-08-02 (China time): day 60 is 2025-10-01 (国庆); 10-04/05 are a weekend, 10-06 to 10-08 holidays, so it ends with 2025-10-09.
  it('runs to the end of the next working day, and no further', async () => {
    const inTime = await claimDecidedAt('2025-08-02T10:00:00+08:00');
    expect(await appealableUntil(inTime)).toBe(new Date('2025-10-10T00:00:00+08:00').toISOString());
    const filed = await fileAt('2025-10-09T23:30:00+08:00', inTime);
    expect(filed.userErrors).toEqual([]);

    const late = await fileAt('2025-10-10T00:10:00+08:00', await claimDecidedAt('2025-08-02T10:00:00+08:00'));
    expect(late.appeal).toBeNull();
    expect(late.userErrors).toEqual([expect.objectContaining({ field: 'input.claimId', code: 'CONFLICT' })]);
    expect(late.userErrors[0].message).toContain('ended at the end of 2025-10-09 (24:00 China time)');
    expect(late.userErrors[0].message).toContain('day 60, 2025-10-01, was a weekend or holiday');
  });
});

describe('appealLastDay', () => {
  const period = { days: 60, holidays: HOLIDAYS.split(',') };
  it.each([
    // The China date counts, not the UTC one: 2025-03-03 07:30 China time is still 2025-03-02 in UTC.
    ['2025-03-03T07:30:00+08:00', '2025-05-02'],
    ['2025-03-03T23:59:59+08:00', '2025-05-02'],
    ['2025-03-04T00:00:00+08:00', '2025-05-05'], // day 60 is Saturday 2025-05-03: on to Monday
    ['2025-03-05T12:00:00+08:00', '2025-05-05'], // Sunday 2025-05-04: on to Monday
    ['2025-08-02T10:00:00+08:00', '2025-10-09'], // 国庆 and the weekend in it
  ])('of a claim decided at %s is %s', (decidedAt, lastDay) => {
    expect(appealLastDay(new Date(decidedAt), period)).toBe(lastDay);
    expect(appealDeadline(new Date(decidedAt), period)).toEqual(new Date(`${lastDay}T16:00:00Z`)); // 24:00 China time
  });
});
