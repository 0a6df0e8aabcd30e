import { afterEach, describe, expect, it, vi } from 'vitest';
import { bankCardProblem, creditCodeProblem, residentIdFacts, residentIdProblem, withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';

describe('resident ID number (GB 11643, MOD 11-2)', () => {
  it('accepts valid numbers, including an X check character', () => {
    expect(residentIdProblem('11010519491231002X')).toBeNull();
    expect(residentIdProblem('350521199001011239')).toBeNull();
  });
  it('names a wrong check digit and the expected one', () => {
    expect(residentIdProblem('110105194912310021')).toBe('check digit is 1, expected X');
    expect(residentIdProblem('350521199001011234')).toBe('check digit is 4, expected 9');
  });
  it('refuses impossible and future birth dates', () => {
    expect(residentIdProblem(withResidentIdCheck('35052119900230123'))).toBe('birth date 19900230 is not a valid date');
    expect(residentIdProblem(withResidentIdCheck('35052118500101123'))).toBe('birth date 18500101 is out of range');
    expect(residentIdProblem(withResidentIdCheck('35052121990101123'))).toBe('birth date 21990101 is out of range');
  });
  it('takes "future" by China\'s day: born on China\'s today is accepted before 08:00 there, when UTC\'s day is still yesterday', () => {
    vi.useFakeTimers({ now: new Date('2025-06-02T00:30:00+08:00') });
    expect(residentIdProblem(withResidentIdCheck('35050220250602001'))).toBeNull();
    expect(residentIdProblem(withResidentIdCheck('35050220250603001'))).toMatch(/birth date 20250603 is out of range/);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses wrong lengths and characters', () => {
    expect(residentIdProblem('35052119900101123')).toMatch(/18 characters/);
    expect(residentIdProblem('3505211990010112331')).toMatch(/18 characters/);
    expect(residentIdProblem('35052119900101123x')).toMatch(/18 characters/); // lower-case x: callers upper-case first
    expect(residentIdProblem(withResidentIdCheck('05052119900101123'))).toMatch(/must not start with 0/);
  });
  it('reads birth date and gender', () => {
    expect(residentIdFacts('11010519491231002X')).toEqual({ birthDate: '1949-12-31', gender: 'F' });
    expect(residentIdFacts('350521199001011239')).toEqual({ birthDate: '1990-01-01', gender: 'M' });
  });
});

describe('Unified Social Credit Code (GB 32100)', () => {
  it('accepts a real code', () => {
    expect(creditCodeProblem('91350100M000100Y43')).toBeNull();
    expect(creditCodeProblem(withCreditCodeCheck('12350500MB0123456'))).toBeNull();
  });
  it('names a wrong check character and the expected one', () => {
    expect(creditCodeProblem('91350100M000100Y44')).toBe('check character is 4, expected 3');
  });
  it('refuses wrong lengths and forbidden letters', () => {
    expect(creditCodeProblem('91350100M000100Y4')).toBe('must be 18 characters, got 17');
    expect(creditCodeProblem('91350100M000100Y433')).toBe('must be 18 characters, got 19');
    expect(creditCodeProblem('9135010OM000100Y43')).toMatch(/without I, O, S, V, Z/);
  });
});

describe('bank card', () => {
  it('checks the Luhn digit of card-length numbers', () => {
    expect(bankCardProblem('6222020200112345678')).toMatch(/Luhn/);
    expect(bankCardProblem('4111111111111111')).toBeNull();
    expect(bankCardProblem('12345')).toMatch(/12 to 30 digits/);
  });
});
