import { encrypt, lookupHash, maskIdNumber, type PersonalDataKeys } from '../privacy/personalData.ts';
import type { ParsedSettlement, RejectionWrite, SettlementWrite } from './model.ts';
import type { SourceRecord } from './records.ts';
import type { SettlementProblem } from './validation.ts';
import { storableJson, storableText, textProblem } from '../kernel/text.ts';

/**
 * Settlements and rejections as stored (model.ts `SettlementWrite`, `RejectionWrite`): the ID number
 * and name encrypted (AES-GCM), hashed for matching (keyed HMAC) and masked for display; the record
 * as received only encrypted.
 */
export function protectSettlement(keys: PersonalDataKeys, s: ParsedSettlement, fields: Record<string, unknown>): SettlementWrite {
  return {
    setlId: s.setlId, infno: s.infno, kind: s.kind, reversesSetlId: s.reversesSetlId, mdtrtId: s.mdtrtId, psnNo: s.psnNo,
    psnNameEnc: encrypt(keys, s.psnName), psnNameMasked: maskName(s.psnName),
    certnoEnc: encrypt(keys, s.certno), certnoHash: lookupHash(keys, s.certno), certnoMasked: maskCertno(s.certno),
    insutype: s.insutype, medType: s.medType, setlTime: s.setlTime, diagnoses: s.diagnoses, amounts: s.amounts, stay: s.stay,
    rawEnc: encrypt(keys, JSON.stringify(fields)),
  };
}

export function protectRejection(keys: PersonalDataKeys, record: SourceRecord, problems: SettlementProblem[]): RejectionWrite {
  const setlId = typeof record.fields.setl_id === 'string' || typeof record.fields.setl_id === 'number'
    ? String(record.fields.setl_id).trim() : '';
  const raw = record.unreadable ? record.unreadable.text : JSON.stringify(record.fields);
  const usableId = setlId.length >= 1 && setlId.length <= 30 && textProblem(setlId) === null;
  return {
    // Keyed, so the key of a record without setl_id reveals nothing of the ID number inside it.
    recordKey: usableId ? setlId : `hmac:${lookupHash(keys, canonicalJson(record)).toString('hex').slice(0, 40)}`,
    setlId: usableId ? setlId : null,
    position: record.position,
    rawEnc: encrypt(keys, raw),
    rawMasked: record.unreadable ? { unreadable: storableText(maskDigitRuns(record.unreadable.text)) } : maskedFields(record.fields),
    // A reason may quote what was received (JSON.parse's message quotes the line).
    problems: storableJson(problems),
  };
}

/**
 * The rejection of a valid record held back (it contradicts another source's copy of its setl_id):
 * kept as any rejection is, from the record as received, already encrypted in `write`.
 */
export function heldRejection(write: SettlementWrite, record: SourceRecord, problems: SettlementProblem[]): RejectionWrite {
  return {
    recordKey: write.setlId, setlId: write.setlId, position: record.position, rawEnc: write.rawEnc,
    rawMasked: maskedFields(record.fields), problems: storableJson(problems),
  };
}

/**
 * The fields with the ID number and name masked: what operators see of a rejected record. Stored as
 * jsonb, so U+0000 and unpaired surrogates (the record's problems say where) become U+FFFD.
 */
export function maskedFields(fields: Record<string, unknown>): Record<string, unknown> {
  const masked = { ...fields };
  if (typeof masked.certno === 'string' && masked.certno) masked.certno = maskCertno(masked.certno.trim());
  if (typeof masked.psn_name === 'string' && masked.psn_name) masked.psn_name = maskName(masked.psn_name.trim());
  return storableJson(masked);
}

/** `张伟` -> `张*`, `欧阳娜娜` -> `欧**娜`: enough to recognise, not to identify. */
export function maskName(name: string): string {
  const chars = [...name];
  if (chars.length <= 1) return '*';
  if (chars.length === 2) return `${chars[0]}*`;
  return chars[0] + '*'.repeat(chars.length - 2) + chars.at(-1);
}

function maskCertno(certno: string): string {
  // Short document numbers (passports) would show almost everything with 4 + 4.
  return certno.length >= 12 ? maskIdNumber(certno) : '*'.repeat(Math.max(0, certno.length - 2)) + certno.slice(-2);
}

// An unreadable line may hold an ID number anywhere: hide every long run of digits.
function maskDigitRuns(text: string): string {
  return text.replace(/\d{6,}[\dXx]?/g, (run) => maskIdNumber(run));
}

function canonicalJson(record: SourceRecord): string {
  if (record.unreadable) return record.unreadable.text;
  return JSON.stringify(Object.keys(record.fields).sort().map((k) => [k, record.fields[k]]));
}
