import type { FieldProblem } from '../kernel/problems.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import { protectMember } from './memberFields.ts';
import type { MemberWrite } from './model.ts';
import { parseRosterRow, type RosterColumn, type RosterContext, type RosterRecord, type RosterRow } from './rosterRow.ts';
import { rosterStageLine } from './store.ts';

/**
 * The per-row work of a roster import that needs nothing but the row: its fields checked, its
 * personal data encrypted and hashed, its staging line written. It is most of an import's CPU
 * (CSV aside), so a big file's rows are checked on threads of their own (rosterCheckers.ts);
 * eligibility, which may ask the database, stays with the import.
 */

/** A roster row checked: refused with its problems, or staged as `line` once eligibility agrees. */
export type CheckedRosterRow =
  | { rowNumber: number; problems: FieldProblem<RosterColumn>[] }
  | {
    rowNumber: number;
    problems: null;
    /** The row as a line of the staging table's COPY text (rosterStageLine). */
    line: string;
    /** What eligibility needs of the member: its unit, and its birth date and gender read off the ID number. */
    member: Pick<MemberWrite, 'unitId' | 'idNumberHash' | 'birthDate' | 'gender'>;
    enrolment: RosterRow['enrolment'];
  };

/** A batch of rows as read: each row's cells in the order of the header's `columns`, the first being row `firstRowNumber` of the file. */
export interface RosterRows {
  columns: readonly RosterColumn[];
  rows: readonly (readonly string[])[];
  firstRowNumber: number;
}

export function checkRosterRows({ columns, rows, firstRowNumber }: RosterRows, ctx: RosterContext, keys: PersonalDataKeys): CheckedRosterRow[] {
  return rows.map((cells, i) => {
    const rowNumber = firstRowNumber + i;
    // Cells past the header's last column are ignored; missing ones read as empty.
    const record: RosterRecord = {};
    for (let c = 0; c < columns.length && c < cells.length; c++) record[columns[c]!] = cells[c];
    const { row, problems } = parseRosterRow(record, ctx);
    if (!row) return { rowNumber, problems };
    const member = protectMember(keys, row.unitId, row);
    return {
      rowNumber, problems: null, line: rosterStageLine({ rowNumber, member, enrolment: row.enrolment }),
      member: { unitId: member.unitId, idNumberHash: member.idNumberHash, birthDate: member.birthDate, gender: member.gender }, enrolment: row.enrolment,
    };
  });
}
