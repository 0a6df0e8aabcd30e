import { describe, expect, it } from 'vitest';
import { addWorkingDays, isWorkingDay, lastLateReceiptDate, turnaroundOf, workingDaysBetween } from '../../src/kernel/workingDays.ts';
import { addDays } from '../../src/kernel/time.ts';

/**
 * Working days in China time and the turnaround promise. Expected dates were read off a calendar
 * (2025-06-06 is a Friday; 国庆 2025 is 1–8 October).
 */

const NONE = new Set<string>();
const GUOQING = ['2025-10-01', '2025-10-02', '2025-10-03', '2025-10-06', '2025-10-07', '2025-10-08'];
const china = (local: string) => new Date(`${local}+08:00`);
const PROMISE = { decisionWorkingDays: 5, paymentWorkingDays: 10, holidays: [] as string[] };

describe('working days', () => {
  it('skips weekends and the given holidays', () => {
    expect(isWorkingDay('2025-06-06', NONE)).toBe(true); // Friday
    expect(isWorkingDay('2025-06-07', NONE)).toBe(false); // Saturday
    expect(isWorkingDay('2025-06-08', NONE)).toBe(false); // Sunday
    expect(isWorkingDay('2025-10-08', new Set(GUOQING))).toBe(false); // a Wednesday off
    expect(addWorkingDays('2025-06-05', 2, NONE)).toBe('2025-06-09'); // Thursday -> Monday
    expect(addWorkingDays('2025-06-07', 5, NONE)).toBe('2025-06-13'); // from a Saturday: Monday is the first
    expect(addWorkingDays('2025-09-30', 5, new Set(GUOQING))).toBe('2025-10-15'); // 9, 10, 13, 14, 15 October
    expect(addWorkingDays('2025-06-06', 0, NONE)).toBe('2025-06-06');
  });

  it('counts the working days after one date up to another', () => {
    expect(workingDaysBetween('2025-06-06', '2025-06-06', NONE)).toBe(0);
    expect(workingDaysBetween('2025-06-06', '2025-06-08', NONE)).toBe(0); // a weekend
    expect(workingDaysBetween('2025-06-06', '2025-06-16', NONE)).toBe(6);
    expect(workingDaysBetween('2025-09-30', '2025-10-09', new Set(GUOQING))).toBe(1);
    expect(workingDaysBetween('2025-06-16', '2025-06-06', NONE)).toBe(0);
    // Counting and adding agree, over a year of starts and promises of 0 to 12 days.
    const holidays = new Set(GUOQING);
    for (let start = '2025-01-01'; start < '2026-01-01'; start = addDays(start, 1)) {
      for (const n of [0, 1, 5, 12]) expect(workingDaysBetween(start, addWorkingDays(start, n, holidays), holidays)).toBe(n);
    }
  });

  it('finds the last receipt date that is late today, as scanning every date would', () => {
    expect(lastLateReceiptDate('2025-06-16', 5, NONE)).toBe('2025-06-08'); // due 13 June; from the 9th due the 16th
    expect(lastLateReceiptDate('2025-06-16', 0, NONE)).toBe('2025-06-15');
    const holidays = new Set(GUOQING);
    for (let today = '2025-09-20'; today < '2025-11-01'; today = addDays(today, 1)) {
      for (const n of [0, 3, 5, 10]) {
        // By definition: the latest date (of the last 60 days) whose due date is before today.
        let expected = '';
        for (let d = addDays(today, -60); d < today; d = addDays(d, 1)) if (addWorkingDays(d, n, holidays) < today) expected = d;
        expect(lastLateReceiptDate(today, n, holidays)).toBe(expected);
      }
    }
  });
});

describe('turnaroundOf', () => {
  const receivedAt = china('2025-06-06T10:00:00'); // a Friday

  it('counts a late decision and an on-time payment', () => {
    const t = turnaroundOf(
      { receivedAt, decidedAt: china('2025-06-16T09:00:00'), paidAt: china('2025-06-20T15:00:00') },
      PROMISE, china('2025-07-01T12:00:00'),
    );
    expect(t).toEqual({
      receivedAt, decidedAt: china('2025-06-16T09:00:00'), paidAt: china('2025-06-20T15:00:00'),
      toDecisionWorkingDays: 6, toPaymentWorkingDays: 10,
      decisionDueBy: '2025-06-13', paymentDueBy: '2025-06-20',
      decisionBreached: true, paymentBreached: false,
    });
  });

  it('judges by the China date: 23:59 on the due date is on time, 00:30 the next day is late', () => {
    const onTime = turnaroundOf({ receivedAt, decidedAt: china('2025-06-13T23:59:00'), paidAt: null, paymentExpected: false }, PROMISE, china('2025-06-14T00:00:00'));
    expect(onTime).toMatchObject({ decisionBreached: false, toDecisionWorkingDays: 5, paymentDueBy: null, paymentBreached: false });
    const late = turnaroundOf({ receivedAt, decidedAt: china('2025-06-14T00:30:00'), paidAt: null, paymentExpected: false }, PROMISE, china('2025-06-14T00:30:00'));
    expect(late).toMatchObject({ decisionBreached: true, toDecisionWorkingDays: 5 });
    // Received late on Friday in China is still Friday, though it is Friday afternoon in UTC.
    expect(turnaroundOf({ receivedAt: new Date('2025-06-06T15:30:00Z'), decidedAt: null, paidAt: null }, PROMISE, receivedAt).decisionDueBy).toBe('2025-06-13');
    expect(turnaroundOf({ receivedAt: new Date('2025-06-06T16:30:00Z'), decidedAt: null, paidAt: null }, PROMISE, receivedAt).decisionDueBy).toBe('2025-06-13'); // Saturday 00:30
  });

  it('an open item is breached only once its due date is past; nothing to pay breaks no payment promise', () => {
    const open = { receivedAt, decidedAt: null, paidAt: null };
    expect(turnaroundOf(open, PROMISE, china('2025-06-13T22:00:00'))).toMatchObject({ decisionBreached: false, paymentBreached: false, toDecisionWorkingDays: null });
    expect(turnaroundOf(open, PROMISE, china('2025-06-14T08:00:00'))).toMatchObject({ decisionBreached: true, paymentBreached: false });
    expect(turnaroundOf(open, PROMISE, china('2025-06-21T08:00:00'))).toMatchObject({ decisionBreached: true, paymentBreached: true });
    const rejected = { receivedAt, decidedAt: china('2025-06-09T10:00:00'), paidAt: null, paymentExpected: false };
    expect(turnaroundOf(rejected, PROMISE, china('2025-12-01T08:00:00'))).toMatchObject({
      decisionBreached: false, toDecisionWorkingDays: 1, paymentDueBy: null, paymentBreached: false, toPaymentWorkingDays: null,
    });
  });

  it('moves the due dates over the configured holidays', () => {
    const t = turnaroundOf(
      { receivedAt: china('2025-09-30T09:00:00'), decidedAt: china('2025-10-15T17:00:00'), paidAt: null },
      { ...PROMISE, holidays: GUOQING }, china('2025-10-16T09:00:00'),
    );
    expect(t).toMatchObject({ decisionDueBy: '2025-10-15', decisionBreached: false, toDecisionWorkingDays: 5, paymentDueBy: '2025-10-22', paymentBreached: false });
  });
});
