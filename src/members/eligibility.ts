import type { Db, Queryable, Tx } from '../kernel/transaction.ts';
import type { FieldProblem } from '../kernel/problems.ts';
import type { Scope } from '../kernel/scope.ts';
import { check, conflict, forbidden, invalidFields, notFound, reasonOf, type DomainError } from '../kernel/errors.ts';
import { inTransaction } from '../db/pool.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { RuleSetCache } from '../benefits/catalogue.ts';
import { governingRuleSets, type GoverningKey } from '../benefits/governing.ts';
import type { EnrolmentRules } from '../benefits/rules/ruleSet.ts';
import {
  coverAdded, decideEnrolment, ENROLMENT_RULES, OVERRIDABLE_RULES, planYearDateProblem, refusalText, specialDiseaseFrom,
  type EnrolmentCandidate, type EnrolmentRefusal, type EnrolmentRule,
} from '../benefits/rules/enrolment.ts';
import type { EnrolmentRow, MemberCategory, MemberRow, MemberWrite, PlanType, UnitRow } from './model.ts';
import type { RosterColumn, RosterRow } from './rosterRow.ts';
import { lockMemberInScope, memberInScope, upsertEnrolment } from './store.ts';
import { condolenceApprovedInYear, enrolmentsOfRows, lockedEnrolment, lockPlanYearEnrolments, rowEnrolmentKey, type RecordedEnrolment, type RowEnrolmentKey } from './store/eligibility.ts';

/**
 * Eligibility at enrolment for every path that enrols (enrolMember, roster rows with a plan year):
 * the rule set governing the plan year decides (src/benefits/rules/enrolment.ts). Back-dating is
 * measured from the day the enrolment is recorded: China's today for the API and the workers; only
 * an in-process caller (tests, the demo) may name another day. A targeted group a change adds to an
 * existing enrolment counts from the enrolment's date: it is judged for back-dating from that date,
 * refused on its own field. The SPECIAL_DISEASE add-on turned on for one starts on that day
 * (specialDiseaseFrom), refused only in a plan year that has ended; an ADMIN's override of BACKDATED
 * back-dates it to the enrolment's date.
 */

/** Where each rule points in EnrolMemberInput. */
const INPUT_FIELD: Record<EnrolmentRule, string> = {
  WORKING_AGE: 'input.memberId', IN_SERVICE: 'input.inService', BACKDATED: 'input.enrolledOn', PLAN_MISMATCH: 'input.plan',
};

/** Where each rule points in a roster row. */
const ROSTER_FIELD: Record<EnrolmentRule, RosterColumn> = {
  WORKING_AGE: 'id_number', IN_SERVICE: 'in_service', BACKDATED: 'enrolled_on', PLAN_MISMATCH: 'plan',
};

/** Where a refusal of cover added to an existing enrolment points, in EnrolMemberInput and in a roster row. */
const COVER_FIELD = {
  specialDisease: { input: 'input.specialDisease', roster: 'special_disease' },
  memberCategories: { input: 'input.memberCategories', roster: 'member_categories' },
} as const satisfies Record<NonNullable<EnrolmentRefusal['cover']>, { input: string; roster: RosterColumn }>;

const inputField = (r: EnrolmentRefusal) => (r.cover ? COVER_FIELD[r.cover].input : INPUT_FIELD[r.rule]);
const rosterField = (r: EnrolmentRefusal) => (r.cover ? COVER_FIELD[r.cover].roster : ROSTER_FIELD[r.rule]);

const MAX_REASON = 500;

/** Why an enrolment of a plan year is refused for a member whose enrolment of that year another unit made (enrolMember, a roster row). */
export const ENROLLED_WITH_OTHER_UNIT = 'the member\'s enrolment of this plan year is with the unit it was made in and stays there';

/** Why a new enrolment of a plan year is refused for a worker approved a condolence (慰问金) of that year (enrolMember, a roster row). */
export const CONDOLENCE_APPROVED = 'the worker was approved a condolence payment (慰问金) of this plan year, which is paid to workers not enrolled in it: they are not enrolled in it';

/**
 * Why a member of a unit whose terms wait for a second ADMIN is not enrolled (enrolMember, a roster
 * row): claims would be decided by terms no second person checked (migration 0076 refuses it too).
 */
export const UNIT_TERMS_WAITING = 'the unit\'s terms (plan type, unit type, small-firm mark) wait for a second ADMIN: '
  + 'its members are enrolled once another ADMIN confirms them (confirmUnitTermsChange)';

/**
 * The `enrolment` rules of the rule set governing an enrolment: its unit's organisation's (or the
 * nearest above it) for the plan year, effective on the enrolment date — as adjudication picks the
 * set for a claim.
 */
export async function enrolmentRules(db: Queryable, ruleSets: RuleSetCache, key: GoverningKey): Promise<EnrolmentRules> {
  await ruleSets.ensureShipped(db);
  return (await governingRuleSets(db, ruleSets, [key]))(key).enrolment;
}

export interface EnrolmentRequest {
  member: MemberRow;
  unit: UnitRow;
  /** The caller's: the member must still be in it, and in `unit`, when the enrolment is written. */
  scope: Scope;
  planYear: number;
  /** Null: the unit's plan type. */
  plan: PlanType | null;
  specialDisease: boolean;
  enrolledOn: string;
  inService: boolean;
  override: { rules: readonly EnrolmentRule[]; reason: string } | null;
  /** Null: none for a new enrolment, those recorded kept for a changed one. */
  memberCategories: readonly MemberCategory[] | null;
}

/** An override as given, checked: ADMIN only (whatever the entry point), known overridable rules, a real reason. */
function checkedOverride(actor: Actor, override: EnrolmentRequest['override']): { rules: EnrolmentRule[]; reason: string } | null {
  if (!override) return null;
  if (actor.role !== 'ADMIN') throw forbidden('only ADMIN may override an eligibility rule');
  const reason = reasonOf('input.override.reason', override.reason);
  const problems: FieldProblem[] = [];
  // reasonOf refused unstorable text already; an override's reason is shorter than a decision's.
  if (reason.length > MAX_REASON) problems.push({ field: 'input.override.reason', reason: `must be at most ${MAX_REASON} characters` });
  const rules = [...new Set(override.rules)];
  if (!rules.length) problems.push({ field: 'input.override.rules', reason: 'name the rules to override' });
  for (const rule of rules) {
    if (!ENROLMENT_RULES.includes(rule)) problems.push({ field: 'input.override.rules', reason: `${String(rule)} is not a rule` });
    else if (!OVERRIDABLE_RULES.includes(rule)) problems.push({ field: 'input.override.rules', reason: `${rule} is never overridden` });
  }
  if (problems.length) throw invalidFields(problems);
  return { rules, reason };
}

/**
 * Why a member the caller found in one unit could not be locked there (lockMemberInScope): CONFLICT
 * when a move within the caller's reach took them to another unit meanwhile (look at them again:
 * what was decided was decided for the unit they left), NOT_FOUND when they are out of reach now.
 */
export async function memberNotLocked(tx: Tx, memberId: number, scope: Scope): Promise<DomainError> {
  return (await memberInScope(tx, memberId, scope))
    ? conflict('input.memberId: the member moved to another unit while this was decided: look at them again and retry', 'input.memberId')
    : notFound('member', 'input.memberId');
}

/**
 * Enrols a member for a plan year, or changes that year's enrolment, if eligible under the rules
 * governing it on its date (enrolmentRules): a new enrolment's date is the one asked, an existing
 * one's is its own, which it keeps. Every broken rule not overridden is bad input on its field, the
 * rule first in the reason. The check, the write and the audit are one transaction; the enrolment
 * is locked while it is decided, so "new" and "existing" (its date and cover) cannot change under
 * the decision. A targeted group a change adds to an existing enrolment is judged for back-dating
 * from its date; the add-on it turns on starts today (an override of BACKDATED: the enrolment's date),
 * one it keeps keeps its start. The year's enrolment of a member moved since stays with the unit it was made in (CONFLICT),
 * a worker approved a condolence of the year is not enrolled in it (CONFLICT), nor a member of a unit
 * whose terms wait for a second ADMIN (CONFLICT).
 */
export async function enrol(db: Db, actor: Actor, ruleSets: RuleSetCache, request: EnrolmentRequest, today: string): Promise<{ row: EnrolmentRow; created: boolean }> {
  const override = checkedOverride(actor, request.override);
  const { member, unit, planYear } = request;
  // Read before the lock: terms once confirmed stay so, and the database refuses the write while they wait.
  if (!unit.termsConfirmed) throw conflict(`input.memberId: ${UNIT_TERMS_WAITING}`, 'input.memberId');
  check('input.enrolledOn', planYearDateProblem(planYear, request.enrolledOn));
  const plan = request.plan ?? unit.planType;
  // Outside the write: the shipped rule sets are stored once, not undone with a refused enrolment.
  await ruleSets.ensureShipped(db);
  return inTransaction(db, async (tx) => {
    // The year first, then the member: a condolence's approval locks in that order too (no deadlock).
    await lockPlanYearEnrolments(tx, [planYear], 'enrolling');
    if (!await lockMemberInScope(tx, member.id, unit.id, request.scope)) throw await memberNotLocked(tx, member.id, request.scope);
    const existing = await lockedEnrolment(tx, member.id, planYear);
    // The unit it was made in owes (and may have paid) for it: taken over, it would uncover that unit's later members.
    if (existing && existing.unitId !== unit.id) throw conflict(`input.planYear: ${ENROLLED_WITH_OTHER_UNIT}`, 'input.planYear');
    if (!existing && await condolenceApprovedInYear(tx, member.id, planYear)) throw conflict(`input.planYear: ${CONDOLENCE_APPROVED}`, 'input.planYear');
    // The rules in force on the day judged, as for a roster row's added cover: the day the caller names
    // must not pick, for an enrolment that keeps its own, a laxer version of the year.
    const enrolledOn = existing?.enrolledOn ?? request.enrolledOn;
    const rules = await enrolmentRules(tx, ruleSets, { organisationId: unit.organisationId, planYear, on: enrolledOn });
    const candidate: EnrolmentCandidate = {
      birthDate: member.birthDate, gender: member.gender, inService: request.inService,
      enrolledOn, planYear, today, newEnrolment: existing === null,
      ...(existing ? { addedCover: coverAdded(existing, request) } : {}),
      unitPlan: unit.planType, plan, override: override?.rules ?? [],
    };
    const decision = decideEnrolment(rules, candidate);
    if (decision.refusals.length) throw invalidFields(decision.refusals.map((r) => ({ field: inputField(r), reason: refusalText(r) })));
    // Only the rules this enrolment does break are recorded as overridden; naming another changes nothing.
    const overridden = [...new Set(decision.overridden.map((r) => r.rule))];
    const { row, created } = await upsertEnrolment(tx, {
      memberId: member.id, unitId: unit.id, planYear, plan, specialDisease: request.specialDisease,
      specialDiseaseFrom: request.specialDisease ? specialDiseaseFrom(candidate) : null,
      enrolledOn, override: override && overridden.length ? { rules: overridden, reason: override.reason, by: actor.subject } : null,
      memberCategories: request.memberCategories, setBy: actor.subject,
    });
    await recordAudit(tx, actor, {
      action: created ? 'enrolment.create' : 'enrolment.update', targetType: 'Enrolment', targetId: String(row.id),
      reason: override?.reason,
      details: {
        memberId: member.id, planYear: row.planYear, plan: row.plan, specialDisease: row.specialDisease,
        specialDiseaseFrom: row.specialDiseaseFrom, memberCategories: row.memberCategories,
        ...(override ? { overridden: decision.overridden.map((r) => ({ rule: r.rule, refusal: r.en })) } : {}),
      },
    });
    return { row, created };
  });
}

/**
 * Eligibility of checked roster rows (one import, one day): rows with a plan year are judged by
 * that year's rules; a roster overrides nothing. Back-dating counts for an enrolment the row would
 * create, and for a targeted group the row adds to an existing one (it counts from that enrolment's
 * date, which is kept); the add-on the row turns on for one starts on the import's day
 * (mergeStagedEnrolments), refused only in a plan year that has ended. So importing the same file
 * again changes nothing.
 * The member is the row's as stored (its birth date and gender read off the ID number); only a
 * member of the row's unit has an enrolment here, so the reason is the same whatever another
 * unit's record is.
 */
export function rosterEligibility(db: Queryable, ruleSets: RuleSetCache, today: string) {
  // Looked up once per organisation, year and enrolment date: a roster has few of each.
  const known = new Map<string, EnrolmentRules>();
  // A row asking for cover (a group in a year begun, the add-on in a year ended) may add it to an
  // enrolment dated long before: those enrolments are read a batch of rows at a time (`prefetch`), not one query a row.
  const asksCover = (e: NonNullable<RosterRow['enrolment']>) =>
    ((e.memberCategories?.length ?? 0) > 0 && `${e.planYear}-01-01` < today) || (e.specialDisease && `${e.planYear}-12-31` < today);
  let recorded = new Map<string, RecordedEnrolment | null>();
  const enrolmentOf = async (key: RowEnrolmentKey): Promise<RecordedEnrolment | null> => {
    const k = rowEnrolmentKey(key);
    return recorded.has(k) ? recorded.get(k)! : (await enrolmentsOfRows(db, [key])).get(k) ?? null;
  };
  const keyOf = (e: NonNullable<RosterRow['enrolment']>, member: Pick<MemberWrite, 'idNumberHash' | 'unitId'>): RowEnrolmentKey =>
    ({ idNumberHash: member.idNumberHash, unitId: member.unitId, planYear: e.planYear });
  const check = async (
    e: RosterRow['enrolment'], member: Pick<MemberWrite, 'idNumberHash' | 'birthDate' | 'gender' | 'unitId'>, unit: Pick<UnitRow, 'planType' | 'organisationId'>,
  ): Promise<FieldProblem<RosterColumn>[]> => {
    if (!e) return [];
    const unitPlan = unit.planType;
    const rulesOn = async (on: string) => {
      const key = { organisationId: unit.organisationId, planYear: e.planYear, on };
      const cacheKey = `${key.organisationId}:${key.planYear}:${key.on}`;
      let found = known.get(cacheKey);
      if (!found) {
        found = await enrolmentRules(db, ruleSets, key);
        known.set(cacheKey, found);
      }
      return found;
    };
    const rules = await rulesOn(e.enrolledOn);
    const candidate: EnrolmentCandidate = {
      birthDate: member.birthDate, gender: member.gender, inService: e.inService, enrolledOn: e.enrolledOn, planYear: e.planYear, today, newEnrolment: true,
      unitPlan, plan: e.plan, override: [],
    };
    let { refusals } = decideEnrolment(rules, candidate);
    // Only now ask the database, and only for a row that is back-dated, or that asks for cover an
    // enrolment of the year could lack and be refused for (a roster of a year not begun: neither).
    if (refusals.some((r) => r.rule === 'BACKDATED') || asksCover(e)) {
      const existing = await enrolmentOf(keyOf(e, member));
      if (existing !== null) {
        // An existing enrolment keeps its date: the row is not back-dated itself, but a group it adds
        // counts from that date, under the rules governing it (refused on the cover's column).
        const added = decideEnrolment(await rulesOn(existing.enrolledOn), {
          ...candidate, enrolledOn: existing.enrolledOn, newEnrolment: false, addedCover: coverAdded(existing, e),
        }).refusals.filter((r) => r.cover);
        refusals = [...decideEnrolment(rules, { ...candidate, newEnrolment: false }).refusals, ...added];
      }
    }
    return refusals.map((r) => ({ field: rosterField(r), reason: refusalText(r) }));
  };
  /** Reads in one query the enrolments the next rows asking for cover may add to (the rows of one batch: the last batch's are let go). */
  const prefetch = async (rows: readonly { enrolment: RosterRow['enrolment']; member: Pick<MemberWrite, 'idNumberHash' | 'unitId'> }[]): Promise<void> => {
    const keys = rows.flatMap(({ enrolment: e, member }) => (e && asksCover(e) ? [keyOf(e, member)] : []));
    const found = await enrolmentsOfRows(db, keys);
    recorded = new Map(keys.map((key) => [rowEnrolmentKey(key), found.get(rowEnrolmentKey(key)) ?? null]));
  };
  return Object.assign(check, { prefetch });
}
