import type { FieldChecks } from './fields.ts';
import { CURRENCY, type XmlElement, type XmlTree } from './xml.ts';

/**
 * Building blocks several messages share, each written and read in one place: amounts, CNAPS
 * agents, account numbers, date choices and status/return reasons.
 */

export function amountTree(cny: string): XmlTree {
  return { '@_Ccy': CURRENCY, '#text': cny };
}

/** A bank by its CNAPS code: `FinInstnId/ClrSysMmbId/ClrSysId/Cd = CNAPS` and `MmbId`. */
export function cnapsAgentTree(code: string): XmlTree {
  return { FinInstnId: { ClrSysMmbId: { ClrSysId: { Cd: 'CNAPS' }, MmbId: code } } };
}

/** The bank's clearing code (CNAPS in China), or its BIC when it gives no clearing code. */
export function readAgent(agent: XmlElement): string | undefined {
  const institution = agent.need('FinInstnId');
  return institution.child('ClrSysMmbId')?.needText('MmbId') ?? institution.textOf('BIC');
}

/** Chinese accounts have no IBAN: the number goes in `Id/Othr/Id`. */
export function accountIdTree(number: string): XmlTree {
  return { Othr: { Id: number } };
}

export function readAccountId(account: XmlElement): string {
  const id = account.need('Id');
  return id.textOf('IBAN') ?? id.need('Othr').needText('Id');
}

export function dateChoiceTree(value: string): XmlTree {
  return value.includes('T') ? { DtTm: value } : { Dt: value };
}

export interface StatusReason {
  /** ISO external code (AC04 closed account, AC01 wrong account number, ...) or the bank's own code. */
  reasonCode?: string;
  additionalInfo?: string;
}

const INFO_CHUNK = 105;

/** `Rsn` and `AddtlInf` (of `StsRsnInf` or `RtrInf`); longer information is split in 105-character lines. */
export function reasonTree(checks: FieldChecks, field: string, reason: StatusReason): XmlTree {
  const { reasonCode, additionalInfo } = reason;
  if (reasonCode !== undefined) checks.text(`${field}.reasonCode`, reasonCode, 35);
  if (additionalInfo !== undefined) checks.text(`${field}.additionalInfo`, additionalInfo, Number.MAX_SAFE_INTEGER);
  const lines = infoLines(additionalInfo ?? '');
  return {
    // External codes are at most 4 characters; anything longer is the bank's proprietary code.
    Rsn: reasonCode === undefined ? undefined : reasonCode.length <= 4 ? { Cd: reasonCode } : { Prtry: reasonCode },
    AddtlInf: lines.length > 0 ? lines : undefined,
  };
}

function infoLines(text: string): string[] {
  const chars = [...text];
  const lines: string[] = [];
  for (let start = 0; start < chars.length; ) {
    let end = Math.min(start + INFO_CHUNK, chars.length);
    // Readers trim each line, so a line never begins or ends at a space.
    while (end < chars.length && end - start > 1 && /\s/.test(chars[end - 1]! + chars[end]!)) end--;
    lines.push(chars.slice(start, end).join(''));
    start = end;
  }
  return lines;
}

export function readReason(holder: XmlElement): StatusReason {
  const reason: StatusReason = {};
  const rsn = holder.child('Rsn');
  if (rsn) reason.reasonCode = rsn.textOf('Cd') ?? rsn.needText('Prtry');
  const lines = holder.all('AddtlInf').map((line) => line.text());
  if (lines.length > 0) reason.additionalInfo = lines.join('');
  return reason;
}
