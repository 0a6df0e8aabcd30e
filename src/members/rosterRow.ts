import { isIsoDate } from '../kernel/time.ts';
import { validateMemberFields, type MemberField, type MemberFields } from './memberFields.ts';
import { MEMBER_CATEGORIES, type MemberCategory, type PlanType } from './model.ts';
import { repeatedColumns } from '../csv.ts';
import type { FieldProblem } from '../kernel/problems.ts';
import { textProblem } from '../kernel/text.ts';
import { defaultEnrolmentDate, planYearDateProblem } from '../benefits/rules/enrolment.ts';

/**
 * A roster CSV row (a unit's yearly list of employees) checked field by field. Pure: the caller
 * supplies the units it knows. Column names are the file's own; errors name them.
 */
export const ROSTER_COLUMNS = [
  'name', 'id_number', 'phone', 'bank_card', 'bank_code', 'unit_credit_code', 'plan_year', 'plan', 'special_disease', 'enrolled_on',
  'in_service', 'member_categories',
] as const;
export const REQUIRED_ROSTER_COLUMNS = ['name', 'id_number'] as const;

export type RosterColumn = (typeof ROSTER_COLUMNS)[number];

/** A CSV row as read, by column name. */
export type RosterRecord = Partial<Record<RosterColumn, string>>;

const COLUMN_OF: Record<MemberField, RosterColumn> = {
  name: 'name', idNumber: 'id_number', phone: 'phone', bankCard: 'bank_card', bankCode: 'bank_code',
};

export interface RosterUnit {
  id: number;
  planType: PlanType;
  /** Whose rule set judges its enrolments. */
  organisationId: number;
}

export interface RosterRow extends MemberFields {
  unitId: number;
  /** `inService`: 在职 on the enrolment date (column in_service, true when empty); checked by eligibility.ts. */
  /** `memberCategories`: column member_categories, `;`-separated; null (an empty cell) keeps those recorded. */
  enrolment: {
    planYear: number; plan: PlanType; specialDisease: boolean; enrolledOn: string; inService: boolean; memberCategories: MemberCategory[] | null;
  } | null;
}

export interface RosterContext {
  unitsByCode: Map<string, RosterUnit>;
  /** Unit for rows that name none (`--unit`, or the operator's own unit). */
  defaultUnit: RosterUnit | null;
  /** When set, rows for any other unit are refused (a unit operator imports only their unit). */
  onlyUnitId: number | null;
  today: string;
}

const TRUE_WORDS = new Set(['true', '1', 'y', 'yes', '是']);
const FALSE_WORDS = new Set(['false', '0', 'n', 'no', '否', '']);

export function parseRosterRow(
  record: RosterRecord,
  ctx: RosterContext,
): { row: RosterRow | null; problems: FieldProblem<RosterColumn>[] } {
  // A cell PostgreSQL cannot store (U+0000) is reported alone: other reasons may quote the cell.
  const unstorable: FieldProblem<RosterColumn>[] = [];
  for (const field of ROSTER_COLUMNS) {
    const reason = record[field] === undefined ? null : textProblem(record[field]);
    if (reason) unstorable.push({ field, reason });
  }
  if (unstorable.length) return { row: null, problems: unstorable };

  const { value, problems: memberProblems } = validateMemberFields({
    name: record.name, idNumber: record.id_number, phone: record.phone, bankCard: record.bank_card, bankCode: record.bank_code,
  });
  const problems: FieldProblem<RosterColumn>[] = memberProblems.map((p) => ({ field: COLUMN_OF[p.field], reason: p.reason }));

  const code = record.unit_credit_code?.trim().toUpperCase() ?? '';
  const unit = code ? ctx.unitsByCode.get(code) ?? null : ctx.defaultUnit;
  if (!unit) {
    problems.push({ field: 'unit_credit_code', reason: code ? `no unit is registered with code ${code}` : 'is required (no default unit given)' });
  } else if (ctx.onlyUnitId !== null && unit.id !== ctx.onlyUnitId) {
    problems.push({ field: 'unit_credit_code', reason: 'is not your unit' });
  }

  let enrolment: RosterRow['enrolment'] = null;
  const yearText = record.plan_year?.trim() ?? '';
  if (yearText) {
    const planYear = Number(yearText);
    const yearKnown = /^\d{4}$/.test(yearText) && planYear >= 2000 && planYear <= 2100;
    if (!yearKnown) problems.push({ field: 'plan_year', reason: 'must be a year between 2000 and 2100' });
    const planText = record.plan?.trim().toUpperCase() ?? '';
    if (planText && planText !== 'PUBLIC' && planText !== 'PRIVATE') {
      problems.push({ field: 'plan', reason: 'must be PUBLIC or PRIVATE' });
    }
    const specialText = record.special_disease?.trim().toLowerCase() ?? '';
    if (!TRUE_WORDS.has(specialText) && !FALSE_WORDS.has(specialText)) {
      problems.push({ field: 'special_disease', reason: 'must be true or false' });
    }
    const inServiceText = record.in_service?.trim().toLowerCase() ?? '';
    if (!TRUE_WORDS.has(inServiceText) && !FALSE_WORDS.has(inServiceText)) {
      problems.push({ field: 'in_service', reason: 'must be true or false' });
    }
    const categories = memberCategoriesOf(record.member_categories ?? '');
    if (typeof categories === 'string') problems.push({ field: 'member_categories', reason: categories });
    const givenOn = record.enrolled_on?.trim() ?? '';
    const enrolledOn = givenOn || (yearKnown ? defaultEnrolmentDate(planYear, ctx.today) : ctx.today);
    const outsideYear = yearKnown ? planYearDateProblem(planYear, enrolledOn) : null;
    if (!isIsoDate(enrolledOn)) problems.push({ field: 'enrolled_on', reason: 'must be a date yyyy-MM-dd' });
    else if (outsideYear) problems.push({ field: 'enrolled_on', reason: givenOn ? outsideYear : `${outsideYear}; empty, it is the day of the import, ${ctx.today}` });
    if (unit) {
      enrolment = {
        planYear,
        plan: (planText || unit.planType) as PlanType,
        specialDisease: TRUE_WORDS.has(specialText),
        enrolledOn,
        inService: inServiceText === '' || TRUE_WORDS.has(inServiceText),
        memberCategories: typeof categories === 'string' ? null : categories,
      };
    }
  } else {
    for (const column of ['plan', 'special_disease', 'enrolled_on', 'in_service', 'member_categories'] as const) {
      if (record[column]?.trim()) problems.push({ field: column, reason: 'needs plan_year' });
    }
  }

  if (problems.length || !unit) return { row: null, problems };
  return { row: { ...(value as MemberFields), phone: value.phone ?? null, bankCard: value.bankCard ?? null, bankCode: value.bankCode ?? null, unitId: unit.id, enrolment }, problems };
}

/** The categories of a member_categories cell (`;`-separated, e.g. `SANITATION;HARDSHIP`), null when empty, or why not. */
function memberCategoriesOf(cell: string): MemberCategory[] | null | string {
  const names = cell.split(';').map((c) => c.trim().toUpperCase()).filter((c) => c !== '');
  if (!names.length) return null;
  const unknown = names.find((c) => !(MEMBER_CATEGORIES as readonly string[]).includes(c));
  if (unknown !== undefined) return `unknown category ${unknown}; known: ${MEMBER_CATEGORIES.join(', ')}`;
  const repeated = names.find((c, i) => names.indexOf(c) !== i);
  if (repeated !== undefined) return `names ${repeated} twice`;
  return names as MemberCategory[];
}

/** Header check: names the missing and unknown columns before any row is read. */
export function rosterHeaderProblems(header: string[], hasDefaultUnit: boolean): string[] {
  const problems: string[] = [];
  const known = new Set<string>(ROSTER_COLUMNS);
  for (const column of REQUIRED_ROSTER_COLUMNS) if (!header.includes(column)) problems.push(`missing column ${column}`);
  if (!hasDefaultUnit && !header.includes('unit_credit_code')) problems.push('missing column unit_credit_code (or give a default unit)');
  for (const column of header) if (!known.has(column)) problems.push(`unknown column ${column}`);
  for (const column of repeatedColumns(header)) problems.push(`column ${column} is repeated`);
  return problems;
}
