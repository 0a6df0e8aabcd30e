import type { FieldProblem } from '../kernel/problems.ts';
import { DAY_MS } from '../kernel/time.ts';
import { bankCardHash, encrypt, lookupHash, maskBankCard, maskIdNumber, type PersonalDataKeys } from '../privacy/personalData.ts';
import type { MemberRow, MemberWrite } from './model.ts';
import { bankCardProblem, bankCodeProblem, phoneProblem, residentIdFacts, residentIdProblem } from '../kernel/identifiers.ts';
import { nameProblem } from '../banks/iso20022/fields.ts';

/**
 * One validation of a member's fields for every entry point (API, CSV roster). Problems are keyed
 * by the canonical field name; each entry point names the field its own way.
 */
export type MemberField = 'name' | 'idNumber' | 'phone' | 'bankCard' | 'bankCode';

export interface RawMemberFields {
  name?: string | null;
  idNumber?: string | null;
  phone?: string | null;
  bankCard?: string | null;
  bankCode?: string | null;
}

export interface MemberFields {
  name: string;
  idNumber: string;
  phone: string | null;
  bankCard: string | null;
  bankCode: string | null;
}

/**
 * Why an ID number is refused when its member belongs to another unit (import row, createMember).
 * Worded so it names no unit and does not say the member exists: only the refusal itself shows.
 */
export const REGISTERED_ELSEWHERE = 'cannot be registered by this unit — the city union (ADMIN) moves members between units';


export function validateMemberFields(
  raw: RawMemberFields,
  { partial = false }: { partial?: boolean } = {},
): { value: Partial<MemberFields>; problems: FieldProblem<MemberField>[] } {
  const problems: FieldProblem<MemberField>[] = [];
  const value: Partial<MemberFields> = {};
  const text = (v: string | null | undefined) => (v == null ? null : v.trim() === '' ? null : v.trim());

  const name = text(raw.name);
  if (name !== null) {
    // The payment file's own check: a name it refuses would fail every payment to the member at sealing.
    const problem = name.length > 100 ? 'must be at most 100 characters' : nameProblem(name);
    if (problem) problems.push({ field: 'name', reason: problem });
    else value.name = name;
  } else if (!partial) problems.push({ field: 'name', reason: 'is required' });

  const idNumber = text(raw.idNumber)?.toUpperCase() ?? null;
  if (idNumber !== null) {
    const problem = residentIdProblem(idNumber);
    if (problem) problems.push({ field: 'idNumber', reason: problem });
    else value.idNumber = idNumber;
  } else if (!partial) problems.push({ field: 'idNumber', reason: 'is required' });

  const phone = text(raw.phone);
  if (phone !== null) {
    const problem = phoneProblem(phone);
    if (problem) problems.push({ field: 'phone', reason: problem });
    else value.phone = phone;
  }

  const bankCard = text(raw.bankCard)?.replaceAll(' ', '') ?? null;
  const bankCode = text(raw.bankCode);
  if ((bankCard === null) !== (bankCode === null)) {
    const missing: MemberField = bankCard === null ? 'bankCard' : 'bankCode';
    problems.push({ field: missing, reason: 'bank card and bank code go together: both or neither' });
  } else if (bankCard !== null && bankCode !== null) {
    const cardProblem = bankCardProblem(bankCard);
    const codeProblem = bankCodeProblem(bankCode);
    if (cardProblem) problems.push({ field: 'bankCard', reason: cardProblem });
    if (codeProblem) problems.push({ field: 'bankCode', reason: codeProblem });
    if (!cardProblem && !codeProblem) Object.assign(value, { bankCard, bankCode });
  }
  return { value, problems };
}

/** The bank card as stored: encrypted, hashed, masked. */
export function protectBankCard(keys: PersonalDataKeys, bankCard: string, bankCode: string): NonNullable<MemberWrite['bankCard']> {
  return { enc: encrypt(keys, bankCard), hash: bankCardHash(keys, bankCard), masked: maskBankCard(bankCard), bankCode };
}

/** A validated member as stored: personal data encrypted, hashed for lookup and masked for display. */
export function protectMember(keys: PersonalDataKeys, unitId: number, fields: MemberFields): MemberWrite {
  const facts = residentIdFacts(fields.idNumber);
  return {
    unitId,
    name: fields.name,
    idNumberEnc: encrypt(keys, fields.idNumber),
    idNumberHash: lookupHash(keys, fields.idNumber),
    idNumberMasked: maskIdNumber(fields.idNumber),
    birthDate: facts.birthDate,
    gender: facts.gender,
    phone: fields.phone,
    bankCard: fields.bankCard && fields.bankCode ? protectBankCard(keys, fields.bankCard, fields.bankCode) : null,
  };
}

/**
 * When payouts to a member's account may go out: a replaced account waits `coolingOffDays`
 * (BANK_CARD_COOLING_OFF_DAYS) after the change, or until a second person confirmed it, whichever
 * comes first. Null when the account replaced none.
 */
export function payableFrom(member: MemberRow, coolingOffDays: number): Date | null {
  if (!member.bankCardChangedAt) return null;
  const cooled = new Date(member.bankCardChangedAt.getTime() + coolingOffDays * DAY_MS);
  return member.bankCardConfirmedAt && member.bankCardConfirmedAt < cooled ? member.bankCardConfirmedAt : cooled;
}
