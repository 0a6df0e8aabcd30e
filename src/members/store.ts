import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Queryable, Tx } from '../kernel/transaction.ts';
import { Params } from '../db/sql.ts';
import { copyLine, copyValue } from '../db/copy.ts';
import type { Actor } from '../audit/audit.ts';
import { CONTRIBUTION_FEN, type ContributionFigures, type ContributionKey, type ContributionPaymentRow, type ContributionPaymentSource, type EnrolmentRow, type EnrolmentWrite, type MemberChangeAction, type MemberChangeRow, type MemberRow, type MemberWrite, type PlanType, type RecordedChange, type RosterCounts, type RosterImportRow, type RosterImportStatus, type RowError, type StoredContributionPayment, type UnitRow, type UnitType, type MemberCategory } from './model.ts';
import { groupBy, type Page } from '../kernel/page.ts';
import { byKey, keysetSql, type Ordering } from '../db/keyset.ts';
import type { Scope } from '../kernel/scope.ts';
import type { UnitTermsChangeRow } from './model.ts';
import { memberScopeSql, organisationRowScopeSql, unitRowScopeSql } from '../db/scope.ts';

/**
 * SQL of the members domain: every statement on units, members, enrolments, member_changes,
 * contribution_payments, unit_payer_accounts, roster_imports (and their errors, and the staging
 * table of an import), and the members' reads of other tables. Every read of people takes a
 * `Scope`: the rows a caller may see, enforced in the WHERE clause so an out-of-scope row is never
 * even loaded.
 */

const UNIT_COLUMNS = `u.id, u.credit_code AS "creditCode", u.name, u.plan_type AS "planType",
  u.organisation_id AS "organisationId", u.unit_type AS "unitType", u.small_micro AS "smallMicro",
  u.terms_confirmed AS "termsConfirmed", u.created_at AS "createdAt", u.updated_at AS "updatedAt"`;

const MEMBER_COLUMNS = `m.id, m.unit_id AS "unitId", m.name, m.id_number_masked AS "idNumberMasked",
  m.birth_date AS "birthDate", m.gender, m.phone, m.bank_card_masked AS "bankCardMasked",
  m.bank_code AS "bankCode", m.bank_card_changed_at AS "bankCardChangedAt", m.bank_card_changed_by AS "bankCardChangedBy",
  m.bank_card_confirmed_at AS "bankCardConfirmedAt", m.bank_card_confirmed_by AS "bankCardConfirmedBy",
  m.created_at AS "createdAt", m.updated_at AS "updatedAt"`;

const ENROLMENT_COLUMNS = `e.id, e.member_id AS "memberId", e.unit_id AS "unitId", e.plan_year AS "planYear",
  e.plan, e.special_disease AS "specialDisease", e.special_disease_from AS "specialDiseaseFrom",
  e.member_categories AS "memberCategories", e.enrolled_on AS "enrolledOn", e.first_enrolled_on AS "firstEnrolledOn",
  CASE WHEN e.override_reason IS NOT NULL THEN json_build_object('rules', e.override_rules, 'reason', e.override_reason,
    'by', e.override_by, 'at', e.override_at) END AS override`;

// The overrides an enrolment keeps when it is written again: BACKDATED stays (its enrolled_on does
// not change), PLAN_MISMATCH only when this write overrides it again (`excluded` carries this write's).
const KEPT_OVERRIDES = `array_remove(e.override_rules, 'PLAN_MISMATCH')`;
const OVERRIDE_ON_CONFLICT_SQL = `override_rules = ${KEPT_OVERRIDES} || excluded.override_rules,
            override_reason = CASE WHEN excluded.override_reason IS NOT NULL THEN excluded.override_reason
                                   WHEN cardinality(${KEPT_OVERRIDES}) > 0 THEN e.override_reason END,
            override_by = CASE WHEN excluded.override_reason IS NOT NULL THEN excluded.override_by
                               WHEN cardinality(${KEPT_OVERRIDES}) > 0 THEN e.override_by END,
            override_at = CASE WHEN excluded.override_reason IS NOT NULL THEN excluded.override_at
                               WHEN cardinality(${KEPT_OVERRIDES}) > 0 THEN e.override_at END`;

// Everyone who set an enrolment's targeted groups is kept (categories_set_by, 0057): none of them
// approves the member-year's claims alone. For a write of the groups `groups` (SQL text[]; null keeps
// those recorded) by `setter` (SQL text): a new enrolment records the setter when it has groups, a
// written one (alias e) adds the setter, once, when its groups change.
const newCategorySettersSql = (groups: string, setter: string) => `CASE WHEN cardinality(${groups}) > 0 THEN ARRAY[${setter}] ELSE '{}' END`;
const categorySettersOnConflictSql = (groups: string, setter: string) => `categories_set_by =
            CASE WHEN ${groups} IS DISTINCT FROM e.member_categories AND ${groups} IS NOT NULL
                      AND NOT (${setter} = ANY (e.categories_set_by)) THEN array_append(e.categories_set_by, ${setter})
                 ELSE e.categories_set_by END`;

// A unit is visible to a member or operator only when it is their own.
const unitScopeSql = (p: Params, scope: Scope): string => unitRowScopeSql(p, scope, 'u.id');

// ---- units ----

export interface UnitFilter {
  name?: string | null;
  planType?: PlanType | null;
  creditCode?: string | null;
  /** Only the units directly in this organisation. */
  organisationId?: number | null;
}

function unitFilterSql(p: Params, scope: Scope, filter: UnitFilter): string {
  const where = [unitScopeSql(p, scope)];
  if (filter.name) where.push(`u.name ILIKE ${p.add(`%${escapeLike(filter.name)}%`)}`);
  if (filter.planType) where.push(`u.plan_type = ${p.add(filter.planType)}`);
  if (filter.creditCode) where.push(`u.credit_code = ${p.add(filter.creditCode)}`);
  if (filter.organisationId != null) where.push(`u.organisation_id = ${p.add(filter.organisationId)}`);
  return where.join(' AND ');
}

export async function unitsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<UnitRow[]> {
  const p = new Params();
  const { rows } = await db.query<UnitRow>(
    `SELECT ${UNIT_COLUMNS} FROM units u WHERE u.id = ANY(${p.add(ids)}) AND ${unitScopeSql(p, scope)}`,
    p.values,
  );
  return rows;
}

export async function unitByCreditCode(db: Queryable, creditCode: string): Promise<UnitRow | null> {
  const { rows } = await db.query<UnitRow>(`SELECT ${UNIT_COLUMNS} FROM units u WHERE u.credit_code = $1`, [creditCode]);
  return rows[0] ?? null;
}

export async function unitsByCreditCodes(db: Queryable, creditCodes: readonly string[]): Promise<UnitRow[]> {
  const { rows } = await db.query<UnitRow>(`SELECT ${UNIT_COLUMNS} FROM units u WHERE u.credit_code = ANY($1)`, [creditCodes]);
  return rows;
}

/** Units in the order they were registered. */
export const UNIT_ORDER = byKey('u.id', 'ASC');

export async function listUnits(db: Queryable, scope: Scope, filter: UnitFilter, page: Page): Promise<UnitRow[]> {
  const p = new Params();
  const where = unitFilterSql(p, scope, filter);
  const keyset = keysetSql(p, UNIT_ORDER, page);
  const { rows } = await db.query<UnitRow>(
    `SELECT ${UNIT_COLUMNS} FROM units u WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countUnits(db: Queryable, scope: Scope, filter: UnitFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM units u WHERE ${unitFilterSql(p, scope, filter)}`,
    p.values,
  );
  return rows[0]!.n;
}

/**
 * A new unit, its terms waiting for a second ADMIN (terms_confirmed false: migration 0076; the caller
 * proposes them); `unitType` and `organisationId` null take the database's defaults (the plan's type, UNION).
 */
export async function insertUnit(
  tx: Tx, unit: { creditCode: string; name: string; planType: PlanType; unitType?: UnitType | null; smallMicro?: boolean; organisationId?: number | null },
): Promise<UnitRow | null> {
  const { rows } = await tx.query<UnitRow>(
    `INSERT INTO units AS u (credit_code, name, plan_type, unit_type, small_micro, organisation_id) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (credit_code) DO NOTHING RETURNING ${UNIT_COLUMNS}`,
    [unit.creditCode, unit.name, unit.planType, unit.unitType ?? null, unit.smallMicro ?? false, unit.organisationId ?? null],
  );
  return rows[0] ?? null;
}

/**
 * Units in bulk (sample data: registerSampleUnits), each with its first terms proposed by `proposedBy`
 * for `reason`, waiting as insertUnit's; a credit code registered already is skipped. The proposals' ids.
 */
export async function insertUnits(
  tx: Tx, units: readonly { creditCode: string; name: string; planType: PlanType }[], proposedBy: string, reason: string,
): Promise<number[]> {
  const { rows } = await tx.query<{ id: number }>(
    `WITH registered AS (
       INSERT INTO units (credit_code, name, plan_type) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
       ON CONFLICT (credit_code) DO NOTHING RETURNING id, plan_type, unit_type, small_micro)
     INSERT INTO unit_terms_changes (unit_id, plan_type, unit_type, small_micro, reason, proposed_by)
     SELECT id, plan_type, unit_type, small_micro, $4, $5 FROM registered RETURNING id`,
    [units.map((u) => u.creditCode), units.map((u) => u.name), units.map((u) => u.planType), reason, proposedBy],
  );
  return rows.map((r) => r.id);
}

/**
 * Renames the unit in `scope` when `name` is given, and answers it locked until the commit (for
 * update by the rename, FOR SHARE otherwise: a terms change confirmed meanwhile is waited for and
 * seen); null when there is none there. Its terms (plan type, unit type, small-firm mark) change only
 * by a confirmed terms change (`confirmUnitTermsChange`: migration 0058 refuses any other UPDATE).
 */
export async function updateUnit(tx: Tx, id: number, scope: Scope, changes: { name?: string | null }): Promise<UnitRow | null> {
  const p = new Params();
  const { rows } = await tx.query<UnitRow>(
    changes.name == null
      ? `SELECT ${UNIT_COLUMNS} FROM units u WHERE u.id = ${p.add(id)} AND ${unitScopeSql(p, scope)} FOR SHARE OF u`
      : `UPDATE units AS u SET name = ${p.add(changes.name)}, updated_at = now()
          WHERE u.id = ${p.add(id)} AND ${unitScopeSql(p, scope)} RETURNING ${UNIT_COLUMNS}`,
    p.values,
  );
  return rows[0] ?? null;
}

// ---- unit terms changes (four eyes on plan type, unit type, small-firm mark: migration 0058) ----


const TERMS_COLUMNS = `tc.id, tc.unit_id AS "unitId", tc.plan_type AS "planType", tc.unit_type AS "unitType", tc.small_micro AS "smallMicro",
  tc.reason, tc.status, tc.proposed_by AS "proposedBy", tc.proposed_at AS "proposedAt", tc.confirmed_by AS "confirmedBy",
  tc.confirmed_at AS "confirmedAt", tc.withdrawn_by AS "withdrawnBy", tc.withdrawn_at AS "withdrawnAt", tc.withdrawal_reason AS "withdrawalReason"`;

/** Proposes a change of the unit's terms (null where it leaves one as it is); null when one is waiting already. */
export async function insertUnitTermsChange(
  tx: Tx,
  change: { unitId: number; planType: PlanType | null; unitType: UnitType | null; smallMicro: boolean | null; reason: string; proposedBy: string },
): Promise<UnitTermsChangeRow | null> {
  const { rows } = await tx.query<UnitTermsChangeRow>(
    `INSERT INTO unit_terms_changes AS tc (unit_id, plan_type, unit_type, small_micro, reason, proposed_by) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (unit_id) WHERE status = 'PROPOSED' DO NOTHING RETURNING ${TERMS_COLUMNS}`,
    [change.unitId, change.planType, change.unitType, change.smallMicro, change.reason, change.proposedBy],
  );
  return rows[0] ?? null;
}

/** The unit's waiting terms change, locked for its confirmation or withdrawal; null when there is none. */
export async function lockOpenUnitTermsChange(tx: Tx, unitId: number): Promise<UnitTermsChangeRow | null> {
  const { rows } = await tx.query<UnitTermsChangeRow>(
    `SELECT ${TERMS_COLUMNS} FROM unit_terms_changes tc WHERE tc.unit_id = $1 AND tc.status = 'PROPOSED' FOR UPDATE`, [unitId]);
  return rows[0] ?? null;
}

/**
 * Confirms the waiting changes and gives their units their terms, confirmed, in the one transaction
 * the database lets change them (units_terms_four_eyes; a unit's first terms: a change naming all
 * three, 0076). Refused by the database (unit_terms_changes_four_eyes) for a change's proposer.
 */
export async function confirmUnitTermsChanges(
  tx: Tx, changeIds: readonly number[], confirmedBy: string,
): Promise<{ changes: UnitTermsChangeRow[]; units: UnitRow[] }> {
  const { rows: changes } = await tx.query<UnitTermsChangeRow>(
    `UPDATE unit_terms_changes AS tc SET status = 'CONFIRMED', confirmed_by = $2 WHERE tc.id = ANY($1::bigint[]) RETURNING ${TERMS_COLUMNS}`,
    [changeIds, confirmedBy],
  );
  const { rows: units } = await tx.query<UnitRow>(
    `UPDATE units AS u SET plan_type = coalesce(tc.plan_type, u.plan_type), unit_type = coalesce(tc.unit_type, u.unit_type),
            small_micro = coalesce(tc.small_micro, u.small_micro), terms_confirmed = true, updated_at = now()
       FROM unit_terms_changes tc WHERE tc.id = ANY($1::bigint[]) AND u.id = tc.unit_id RETURNING ${UNIT_COLUMNS}`,
    [changeIds],
  );
  return { changes, units };
}

export async function withdrawUnitTermsChange(tx: Tx, changeId: number, withdrawnBy: string, reason: string): Promise<UnitTermsChangeRow> {
  const { rows } = await tx.query<UnitTermsChangeRow>(
    `UPDATE unit_terms_changes AS tc SET status = 'WITHDRAWN', withdrawn_by = $2, withdrawal_reason = $3 WHERE tc.id = $1 RETURNING ${TERMS_COLUMNS}`,
    [changeId, withdrawnBy, reason],
  );
  return rows[0]!;
}

/** The waiting terms changes of these units. */
export async function openUnitTermsChanges(db: Queryable, unitIds: readonly number[]): Promise<UnitTermsChangeRow[]> {
  if (!unitIds.length) return [];
  const { rows } = await db.query<UnitTermsChangeRow>(
    `SELECT ${TERMS_COLUMNS} FROM unit_terms_changes tc WHERE tc.unit_id = ANY($1::bigint[]) AND tc.status = 'PROPOSED'`, [unitIds]);
  return rows;
}

/** Whether the organisation exists and lies in `scope` (where a unit may be registered). */
export async function organisationVisible(db: Queryable, scope: Scope, organisationId: number): Promise<boolean> {
  const p = new Params();
  const { rows } = await db.query(
    `SELECT 1 FROM organisations o WHERE o.id = ${p.add(organisationId)} AND ${organisationRowScopeSql(p, scope, 'o.id')}`, p.values);
  return rows.length > 0;
}

/**
 * The unit if it is in `scope`, locked (FOR SHARE) until the commit, or null: the scope checked on the
 * row's own organisation_id, so a move of the unit to another organisation either committed first,
 * and the unit is out of the old organisation's reach, or waits. A move of the unit itself takes
 * lockUnitForMove first.
 */
export async function lockUnitInScope(tx: Tx, unitId: number, scope: Scope): Promise<Pick<UnitRow, 'id' | 'organisationId'> | null> {
  const p = new Params();
  const { rows } = await tx.query<Pick<UnitRow, 'id' | 'organisationId'>>(
    `SELECT u.id, u.organisation_id AS "organisationId" FROM units u
      WHERE u.id = ${p.add(unitId)} AND ${unitRowScopeSql(p, scope, 'u.id', 'u.organisation_id')} FOR SHARE OF u`,
    p.values,
  );
  return rows[0] ?? null;
}

/**
 * Moves the unit to another organisation; the unit's row is locked until the commit. Only as the
 * outcome of a unit move confirmed in this transaction: the database refuses any other (0074).
 */
export async function setUnitOrganisation(tx: Tx, unitId: number, organisationId: number): Promise<UnitRow> {
  const { rows } = await tx.query<UnitRow>(
    `UPDATE units AS u SET organisation_id = $2, updated_at = now() WHERE u.id = $1 RETURNING ${UNIT_COLUMNS}`, [unitId, organisationId]);
  return rows[0]!;
}

// ---- members ----

export interface MemberFilter {
  name?: string | null;
  unitId?: number | null;
  planYear?: number | null;
  plan?: PlanType | null;
  idNumberHash?: Buffer | null;
}

function memberFilterSql(p: Params, scope: Scope, filter: MemberFilter): string {
  const where = [memberScopeSql(p, scope, 'm')];
  if (filter.name) where.push(`m.name LIKE ${p.add(`%${escapeLike(filter.name)}%`)}`);
  if (filter.unitId != null) where.push(`m.unit_id = ${p.add(filter.unitId)}`);
  if (filter.idNumberHash) where.push(`m.id_number_hash = ${p.add(filter.idNumberHash)}`);
  if (filter.planYear != null || filter.plan) {
    const enrolment = ['e.member_id = m.id'];
    if (filter.planYear != null) enrolment.push(`e.plan_year = ${p.add(filter.planYear)}`);
    if (filter.plan) enrolment.push(`e.plan = ${p.add(filter.plan)}`);
    where.push(`EXISTS (SELECT 1 FROM enrolments e WHERE ${enrolment.join(' AND ')})`);
  }
  return where.join(' AND ');
}

export async function membersByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<MemberRow[]> {
  const p = new Params();
  const { rows } = await db.query<MemberRow>(
    `SELECT ${MEMBER_COLUMNS} FROM members m WHERE m.id = ANY(${p.add(ids)}) AND ${memberScopeSql(p, scope, 'm')}`,
    p.values,
  );
  return rows;
}

/** Members in the order they were registered, or by one of these fields (the API's MemberOrderField). */
export const MEMBER_ORDER: Ordering<'NAME' | 'REGISTERED_AT'> = {
  key: 'm.id',
  direction: 'ASC',
  fields: { NAME: { sql: 'm.name', kind: 'text' }, REGISTERED_AT: { sql: 'm.created_at', kind: 'timestamp' } },
};

export async function listMembers(db: Queryable, scope: Scope, filter: MemberFilter, page: Page): Promise<MemberRow[]> {
  const p = new Params();
  const where = memberFilterSql(p, scope, filter);
  const keyset = keysetSql(p, MEMBER_ORDER, page);
  const { rows } = await db.query<MemberRow>(
    `SELECT ${MEMBER_COLUMNS}${keyset.pageKey} FROM members m WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countMembers(db: Queryable, scope: Scope, filter: MemberFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM members m WHERE ${memberFilterSql(p, scope, filter)}`,
    p.values,
  );
  return rows[0]!.n;
}

/** One page of members for each of several units, in one query (unit.members in a list of units). */
export async function membersOfUnits(
  db: Queryable,
  unitIds: number[],
  scope: Scope,
  filter: MemberFilter,
  page: Page,
): Promise<Map<number, MemberRow[]>> {
  const p = new Params();
  const where = memberFilterSql(p, scope, filter);
  const keyset = keysetSql(p, MEMBER_ORDER, page);
  const { rows } = await db.query<MemberRow>(
    `SELECT page.* FROM unnest(${p.add(unitIds)}::bigint[]) AS parent(id)
     CROSS JOIN LATERAL (SELECT ${MEMBER_COLUMNS}${keyset.pageKey} FROM members m
                          WHERE m.unit_id = parent.id AND ${where} AND ${keyset.where}
                          ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}) page`,
    p.values,
  );
  return groupBy(rows, (row) => row.unitId);
}

export async function insertMember(tx: Tx, m: MemberWrite): Promise<MemberRow | null> {
  const { rows } = await tx.query<MemberRow>(
    `INSERT INTO members AS m (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender,
                               phone, bank_card_enc, bank_card_hash, bank_card_masked, bank_code)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (id_number_hash) DO NOTHING RETURNING ${MEMBER_COLUMNS}`,
    [m.unitId, m.name, m.idNumberEnc, m.idNumberHash, m.idNumberMasked, m.birthDate, m.gender, m.phone,
     m.bankCard?.enc ?? null, m.bankCard?.hash ?? null, m.bankCard?.masked ?? null, m.bankCard?.bankCode ?? null],
  );
  return rows[0] ?? null;
}

export interface MemberChanges {
  name?: string | null;
  phone?: string | null;
  unitId?: number | null;
  bankCard?: MemberWrite['bankCard'];
}

/** Who changes a member, through which operation and why: written with every change (member_changes). */
export interface ChangeAuthor {
  actor: Actor;
  action: MemberChangeAction;
  /** Set for `roster.import`, and only then. */
  importId?: number | null;
  reason?: string | null;
}

/**
 * SET clauses of members (alias m) for a write bringing the bank account (`hash`, `code`, null when
 * none): when it replaces a different account (card or bank code), the cooling-off of migration
 * 0007 starts: changed now by `by` (the SQL parameters of its subject and role), unconfirmed. A
 * member's first account starts none. The role decides whether a person may confirm it (0068).
 */
function bankCardCoolingOffSetSql(hash: string, code: string, by: { subject: string; role: string }): string {
  const replaced = `(m.bank_card_hash IS NOT NULL AND ${hash} IS NOT NULL
                     AND (${hash}, ${code}) IS DISTINCT FROM (m.bank_card_hash, m.bank_code))`;
  return `bank_card_changed_at = CASE WHEN ${replaced} THEN now() ELSE m.bank_card_changed_at END,
          bank_card_changed_by = CASE WHEN ${replaced} THEN ${by.subject} ELSE m.bank_card_changed_by END,
          bank_card_changed_by_role = CASE WHEN ${replaced} THEN ${by.role} ELSE m.bank_card_changed_by_role END,
          bank_card_confirmed_at = CASE WHEN ${replaced} THEN NULL ELSE m.bank_card_confirmed_at END,
          bank_card_confirmed_by = CASE WHEN ${replaced} THEN NULL ELSE m.bank_card_confirmed_by END`;
}

/** Columns a change is compared on: the CTE `a` of a member write returns them. */
const CHANGE_COLUMNS = 'm.id, m.unit_id, m.name, m.phone, m.bank_card_hash, m.bank_card_masked, m.bank_code';

/**
 * SQL: a data-modifying CTE `logged` writing one member_changes row per changed field of the members
 * in `a` (after the write, filtered by `where`), in the statement that writes them. The rows before
 * are read from members itself: every part of one statement sees the snapshot taken before it.
 * Values as staff see them: the unit by credit code, the bank account masked with its bank code.
 */
function memberChangesCteSql(p: Params, by: ChangeAuthor, where = 'true'): string {
  const account = (t: string) => `${t}.bank_card_masked || ' / ' || ${t}.bank_code`;
  const unitCode = (t: string) => `(SELECT credit_code FROM units WHERE id = ${t}.unit_id)`;
  return `logged AS (
    INSERT INTO member_changes (member_id, actor, role, action, import_id, reason, field, before, after)
    SELECT a.id, ${p.add(by.actor.subject)}, ${p.add(by.actor.role)}, ${p.add(by.action)}, ${p.add(by.importId ?? null)}::bigint,
           ${p.add(by.reason ?? null)}, c.field, c.before, c.after
      FROM a JOIN members b ON b.id = a.id
     CROSS JOIN LATERAL (VALUES
       ('UNIT', CASE WHEN a.unit_id <> b.unit_id THEN ${unitCode('b')} END,
                CASE WHEN a.unit_id <> b.unit_id THEN ${unitCode('a')} END, a.unit_id <> b.unit_id),
       ('NAME', b.name, a.name, a.name IS DISTINCT FROM b.name),
       ('PHONE', b.phone, a.phone, a.phone IS DISTINCT FROM b.phone),
       ('BANK_ACCOUNT', ${account('b')}, ${account('a')},
        (a.bank_card_hash, a.bank_code) IS DISTINCT FROM (b.bank_card_hash, b.bank_code))
     ) AS c(field, before, after, changed)
     WHERE ${where} AND c.changed
    RETURNING id, field, before, after)`;
}

/**
 * Changes a member's fields (null ones are kept) and records each changed field in member_changes,
 * in one statement. A replaced bank account starts the cooling-off. Null when the member is gone, or
 * no longer in `seenInUnitId`, the unit the caller found them in: a member moved to another unit
 * meanwhile is out of reach of the unit they left.
 */
export async function changeMember(
  tx: Tx,
  id: number,
  seenInUnitId: number,
  c: MemberChanges,
  by: ChangeAuthor,
): Promise<{ member: MemberRow; changes: RecordedChange[] } | null> {
  const p = new Params();
  const card = c.bankCard;
  const hash = `${p.add(card?.hash ?? null)}::bytea`;
  const code = `${p.add(card?.bankCode ?? null)}::char(12)`;
  const { rows } = await tx.query<MemberRow & { changes: RecordedChange[] }>(
    `WITH a AS (
       UPDATE members AS m
          SET name = coalesce(${p.add(c.name ?? null)}, m.name), phone = coalesce(${p.add(c.phone ?? null)}, m.phone),
              unit_id = coalesce(${p.add(c.unitId ?? null)}::bigint, m.unit_id),
              bank_card_enc = coalesce(${p.add(card?.enc ?? null)}::bytea, m.bank_card_enc), bank_card_hash = coalesce(${hash}, m.bank_card_hash),
              bank_card_masked = coalesce(${p.add(card?.masked ?? null)}, m.bank_card_masked), bank_code = coalesce(${code}, m.bank_code),
              ${bankCardCoolingOffSetSql(hash, code, { subject: p.add(by.actor.subject), role: p.add(by.actor.role) })},
              updated_at = now()
        WHERE m.id = ${p.add(id)} AND m.unit_id = ${p.add(seenInUnitId)}
       RETURNING m.*),
     ${memberChangesCteSql(p, by)}
     SELECT ${MEMBER_COLUMNS}, (SELECT coalesce(json_agg(logged ORDER BY logged.id), '[]') FROM logged) AS changes FROM a AS m`,
    p.values,
  );
  const row = rows[0];
  if (!row) return null;
  const { changes, ...member } = row;
  return { member, changes };
}

/**
 * A second person confirms a member's replaced bank account, ending its cooling-off: the replacement
 * made at `changedAt` (to the millisecond, as the API shows it), so an account replaced again after
 * the confirmer checked it is not confirmed in its place. Refused by the database (CHECK) for the one
 * who changed it; null when that replacement is not the one waiting.
 */
export async function confirmBankCardChange(tx: Tx, id: number, changedAt: Date, confirmedBy: string): Promise<MemberRow | null> {
  const { rows } = await tx.query<MemberRow>(
    `UPDATE members AS m SET bank_card_confirmed_at = now(), bank_card_confirmed_by = $3
      WHERE m.id = $1 AND date_trunc('milliseconds', m.bank_card_changed_at) = $2 AND m.bank_card_confirmed_by IS NULL
      RETURNING ${MEMBER_COLUMNS}`,
    [id, changedAt, confirmedBy],
  );
  return rows[0] ?? null;
}

/** A member's changes, newest first. */
export const CHANGE_ORDER = byKey('c.id', 'DESC');

/** A member_changes row (alias `c`) as MemberChangeRow. */
const CHANGE_ROW_COLUMNS = `c.id, c.member_id AS "memberId", c.at, c.actor, c.role, c.action, c.import_id AS "importId", c.reason, c.field, c.before, c.after`;

/** A page of changes for each of several members, in one query. */
export async function changesOfMembers(db: Queryable, memberIds: number[], page: Page): Promise<Map<number, MemberChangeRow[]>> {
  const p = new Params();
  const keyset = keysetSql(p, CHANGE_ORDER, page);
  const { rows } = await db.query<MemberChangeRow>(
    `SELECT page.* FROM unnest(${p.add(memberIds)}::bigint[]) AS parent(id)
     CROSS JOIN LATERAL (SELECT ${CHANGE_ROW_COLUMNS}
                           FROM member_changes c WHERE c.member_id = parent.id AND ${keyset.where}
                          ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}) page`,
    p.values,
  );
  return groupBy(rows, (row) => row.memberId);
}

/** One change by its id (for `node`; the caller checks who may see its member). */
export async function memberChangeById(db: Queryable, id: number): Promise<MemberChangeRow | null> {
  const { rows } = await db.query<MemberChangeRow>(
    `SELECT ${CHANGE_ROW_COLUMNS} FROM member_changes c WHERE c.id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

/** How many changes each member has recorded (in the order of `memberIds`). */
export async function changeCountsOfMembers(db: Queryable, memberIds: readonly number[]): Promise<number[]> {
  const { rows } = await db.query<{ memberId: number; n: number }>(
    `SELECT member_id AS "memberId", count(*)::int AS n FROM member_changes WHERE member_id = ANY($1::bigint[]) GROUP BY member_id`, [memberIds],
  );
  const counts = new Map(rows.map((r) => [r.memberId, r.n]));
  return memberIds.map((id) => counts.get(id) ?? 0);
}

/** The unit a member belongs to, whoever asks: only to word a refusal, never shown. */
export async function unitOfIdNumber(db: Queryable, idNumberHash: Buffer): Promise<number | null> {
  const { rows } = await db.query<{ unitId: number }>(`SELECT unit_id AS "unitId" FROM members WHERE id_number_hash = $1`, [idNumberHash]);
  return rows[0]?.unitId ?? null;
}

export async function memberSecrets(
  db: Queryable,
  id: number,
): Promise<{ idNumberEnc: Buffer; bankCardEnc: Buffer | null } | null> {
  const { rows } = await db.query<{ idNumberEnc: Buffer; bankCardEnc: Buffer | null }>(
    `SELECT id_number_enc AS "idNumberEnc", bank_card_enc AS "bankCardEnc" FROM members WHERE id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

// ---- enrolments ----

export interface EnrolmentFilter {
  planYear?: number | null;
  plan?: PlanType | null;
}

/** A member's enrolments, newest plan year first: the plan year is unique per member, so it is the key. */
export const ENROLMENT_ORDER = byKey('e.plan_year', 'DESC');

function enrolmentFilterSql(p: Params, filter: EnrolmentFilter): string {
  const where = ['true'];
  if (filter.planYear != null) where.push(`e.plan_year = ${p.add(filter.planYear)}`);
  if (filter.plan) where.push(`e.plan = ${p.add(filter.plan)}`);
  return where.join(' AND ');
}

/** One page of enrolments for each of several members, in one query. */
export async function enrolmentsOfMembers(
  db: Queryable,
  memberIds: number[],
  filter: EnrolmentFilter,
  page: Page,
): Promise<Map<number, EnrolmentRow[]>> {
  const p = new Params();
  const keyset = keysetSql(p, ENROLMENT_ORDER, page);
  const { rows } = await db.query<EnrolmentRow>(
    `SELECT page.* FROM unnest(${p.add(memberIds)}::bigint[]) AS parent(id)
     CROSS JOIN LATERAL (SELECT ${ENROLMENT_COLUMNS} FROM enrolments e
                          WHERE e.member_id = parent.id AND ${enrolmentFilterSql(p, filter)} AND ${keyset.where}
                          ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}) page`,
    p.values,
  );
  return groupBy(rows, (row) => row.memberId);
}

/** How many enrolments matching `filter` each member has (none: absent), in one query. */
export async function enrolmentCountsOfMembers(db: Queryable, memberIds: readonly number[], filter: EnrolmentFilter): Promise<Map<number, number>> {
  const p = new Params();
  const { rows } = await db.query<{ memberId: number; n: number }>(
    `SELECT e.member_id AS "memberId", count(*)::int AS n FROM enrolments e
      WHERE e.member_id = ANY(${p.add(memberIds)}::bigint[]) AND ${enrolmentFilterSql(p, filter)} GROUP BY e.member_id`,
    p.values,
  );
  return new Map(rows.map((r) => [r.memberId, r.n]));
}

export async function enrolmentsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<EnrolmentRow[]> {
  const p = new Params();
  const { rows } = await db.query<EnrolmentRow>(
    `SELECT ${ENROLMENT_COLUMNS} FROM enrolments e JOIN members m ON m.id = e.member_id
      WHERE e.id = ANY(${p.add(ids)}) AND ${memberScopeSql(p, scope, 'm')}`,
    p.values,
  );
  return rows;
}

/**
 * Locks the member and its unit if the member is still in `seenInUnitId`, the unit the caller found
 * them in (null: any), and in `scope`: a change decided for the member as found is not written after
 * a move, the member's to another unit or the unit's to another organisation, took them out of the
 * caller's reach; a move asked meanwhile waits for the commit. False when they are not (or are gone).
 * - `change`: the member is about to be updated, so it is locked as an update would (two changes at
 *   once wait in turn instead of deadlocking on their shared locks).
 */
export async function lockMemberInScope(
  tx: Tx, memberId: number, seenInUnitId: number | null, scope: Scope, lock: 'read' | 'change' = 'read',
): Promise<boolean> {
  const p = new Params();
  const { rowCount } = await tx.query(
    `SELECT 1 FROM members m JOIN units u ON u.id = m.unit_id
      WHERE m.id = ${p.add(memberId)} AND ${seenInUnitId === null ? 'true' : `m.unit_id = ${p.add(seenInUnitId)}`}
        AND ${memberScopeSql(p, scope, 'm', 'u')}
        FOR ${lock === 'read' ? 'SHARE' : 'NO KEY UPDATE'} OF m FOR SHARE OF u`,
    p.values,
  );
  return rowCount === 1;
}

/** Whether the member is in `scope` now, in whatever unit (read after lockMemberInScope refused them). */
export async function memberInScope(tx: Tx, memberId: number, scope: Scope): Promise<boolean> {
  const p = new Params();
  const { rowCount } = await tx.query(
    `SELECT 1 FROM members m JOIN units u ON u.id = m.unit_id WHERE m.id = ${p.add(memberId)} AND ${memberScopeSql(p, scope, 'm', 'u')}`, p.values,
  );
  return rowCount === 1;
}

/** How long a move waits for its unit: a roster import merging the unit holds it for minutes. */
const MOVE_WAIT = '10s';
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Locks a unit for a move, as an update would: the unit a member is moved out of, or the unit moved
 * to another organisation. A roster import merging rows of the unit (lockRosterUnits) commits first,
 * so no import enrols a member in the unit they left after they left it, nor merges rows into a unit
 * its organisation no longer holds. False when the unit stayed locked for MOVE_WAIT (an import is
 * merging it); the transaction is then aborted and can only be rolled back.
 */
export async function lockUnitForMove(tx: Tx, unitId: number): Promise<boolean> {
  await tx.query(`SET LOCAL lock_timeout = '${MOVE_WAIT}'`);
  try {
    await tx.query('SELECT 1 FROM units WHERE id = $1 FOR NO KEY UPDATE', [unitId]);
  } catch (error) {
    if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) return false;
    throw error;
  }
  await tx.query('SET LOCAL lock_timeout = DEFAULT');
  return true;
}

/**
 * Locks the units a roster import merges rows of (FOR SHARE) until it commits, and answers those no
 * longer in `organisationId`'s subtree (an organisation's import; none for the hub's), and those whose
 * terms wait for a second ADMIN (migration 0076: confirmed only under a lock this one waits for). A
 * member's move out of one of them (lockUnitForMove) either committed before, and the merges, which
 * read the roster afresh, leave the member to their new unit, or waits for the import (refused if the
 * merges outlast its wait); otherwise a move committing while the enrolments merge ran would leave an
 * enrolment in the unit the member left. Likewise a unit's move to another organisation while the
 * file was staged is seen here.
 */
export async function lockRosterUnits(tx: Tx, unitIds: readonly number[], organisationId: number | null): Promise<{ left: number[]; termsWaiting: number[] }> {
  const p = new Params();
  const inScope = unitRowScopeSql(p, { unitId: null, memberId: null, organisationId }, 'u.id', 'u.organisation_id');
  const { rows } = await tx.query<{ id: number; inScope: boolean; termsConfirmed: boolean }>(
    `SELECT u.id, ${inScope} AS "inScope", u.terms_confirmed AS "termsConfirmed" FROM units u
      WHERE u.id = ANY(${p.add(unitIds)}::bigint[]) ORDER BY u.id FOR SHARE`,
    p.values,
  );
  return { left: rows.filter((u) => !u.inScope).map((u) => u.id), termsWaiting: rows.filter((u) => !u.termsConfirmed).map((u) => u.id) };
}

/** Refuses every staged row (not refused yet) of these units on `unit_credit_code`; the number refused. */
export async function refuseStagedRowsOfUnits(tx: Tx, unitIds: readonly number[], reason: string): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE roster_stage SET problem = 0, field = 'unit_credit_code', reason = $2 WHERE unit_id = ANY($1::bigint[]) AND reason IS NULL`,
    [unitIds, reason],
  );
  return rowCount ?? 0;
}

/** Refuses on `plan_year` every staged row (not refused yet) of these units that enrols its member; the number refused. */
export async function refuseStagedEnrolmentsOfUnits(tx: Tx, unitIds: readonly number[], reason: string): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE roster_stage SET problem = 0, field = 'plan_year', reason = $2
      WHERE unit_id = ANY($1::bigint[]) AND plan_year IS NOT NULL AND reason IS NULL`,
    [unitIds, reason],
  );
  return rowCount ?? 0;
}

/**
 * SQL of an upsert's ON CONFLICT: the SPECIAL_DISEASE add-on's start as the write (`excluded`) leaves
 * the enrolment (alias e): cleared when off, kept when it was on already, else `turnedOn` (SQL date).
 */
const specialDiseaseFromOnConflictSql = (turnedOn: string) => `special_disease_from =
            CASE WHEN NOT excluded.special_disease THEN NULL WHEN e.special_disease THEN e.special_disease_from ELSE ${turnedOn} END`;

/**
 * Enrols a member for a plan year, or changes that year's plan. A renewal directly after the
 * previous plan year keeps the chain's first-enrolment date (no new waiting period). `override`
 * (eligibility rules an ADMIN let through) is kept with it; see OVERRIDE_ON_CONFLICT_SQL for a change.
 * A change keeps the enrolment's unit: the caller refuses one of another unit (eligibility.ts).
 */
export async function upsertEnrolment(tx: Tx, e: EnrolmentWrite): Promise<{ row: EnrolmentRow; created: boolean }> {
  const { rows } = await tx.query<EnrolmentRow & { created: boolean }>(
    `INSERT INTO enrolments AS e (member_id, unit_id, plan_year, plan, special_disease, special_disease_from, enrolled_on, first_enrolled_on,
                                  override_rules, override_reason, override_by, override_at, member_categories, categories_set_by)
     SELECT $1, $2, $3, $4, $5, $12::date, $6::date,
            coalesce((SELECT prev.first_enrolled_on FROM enrolments prev
                       WHERE prev.member_id = $1 AND prev.plan_year = $3 - 1), $6::date),
            $7::text[], $8, $9, CASE WHEN $8::text IS NOT NULL THEN now() END, coalesce($10::text[], '{}'),
            ${newCategorySettersSql('$10::text[]', '$11::text')}
     ON CONFLICT (member_id, plan_year) DO UPDATE
        SET plan = excluded.plan, special_disease = excluded.special_disease,
            ${specialDiseaseFromOnConflictSql('excluded.special_disease_from')},
            member_categories = coalesce($10::text[], e.member_categories),
            ${categorySettersOnConflictSql('$10::text[]', '$11::text')},
            ${OVERRIDE_ON_CONFLICT_SQL},
            updated_at = now()
     RETURNING ${ENROLMENT_COLUMNS}, (xmax = 0) AS created`,
    [e.memberId, e.unitId, e.planYear, e.plan, e.specialDisease, e.enrolledOn,
     e.override?.rules ?? [], e.override?.reason ?? null, e.override?.by ?? null, e.memberCategories, e.setBy, e.specialDiseaseFrom],
  );
  const { created, ...row } = rows[0]!;
  return { row, created };
}

/**
 * Replaces the categories of the enrolment in `scope` (its member locked, its unit against roster imports);
 * the categories before, or null when there is no such enrolment there. `setBy` joins the enrolment's
 * categories_set_by (every person who set them, never dropped: migration 0057), whom the review's four
 * eyes refuses to approve the member-year's claims alone (src/benefits/review.ts).
 */
export async function setEnrolmentCategories(
  tx: Tx, enrolmentId: number, scope: Scope, categories: readonly MemberCategory[], setBy: string,
): Promise<{ before: MemberCategory[]; row: EnrolmentRow } | null> {
  const p = new Params();
  const inScope = `FROM enrolments e JOIN members m ON m.id = e.member_id JOIN units u ON u.id = m.unit_id
      WHERE e.id = ${p.add(enrolmentId)} AND ${memberScopeSql(p, scope, 'm', 'u')}`;
  // The unit first, against the FOR SHARE a roster import of it holds to its commit (lockRosterUnits):
  // its merge keeps an empty groups cell's groups as read when the statement began, so groups set
  // meanwhile would be written over; this way one waits for the other.
  await tx.query(`SELECT 1 ${inScope} FOR NO KEY UPDATE OF u`, p.values);
  const { rows } = await tx.query<{ before: MemberCategory[] }>(
    `SELECT e.member_categories AS before ${inScope} FOR UPDATE OF e FOR SHARE OF m`, p.values,
  );
  if (!rows[0]) return null;
  const updated = await tx.query<EnrolmentRow>(
    `UPDATE enrolments AS e SET member_categories = $2::text[], updated_at = now(),
            categories_set_by = CASE WHEN $3 = ANY (e.categories_set_by) THEN e.categories_set_by ELSE array_append(e.categories_set_by, $3::text) END
      WHERE e.id = $1 RETURNING ${ENROLMENT_COLUMNS}`,
    [enrolmentId, categories, setBy],
  );
  return { before: rows[0].before, row: updated.rows[0]! };
}

// ---- contributions ----

export async function contributionFigures(db: Queryable, keys: readonly ContributionKey[]): Promise<ContributionFigures[]> {
  const { rows } = await db.query<ContributionFigures & { unitId: number; planYear: number }>(
    `SELECT k.unit_id AS "unitId", k.plan_year AS "planYear",
            (SELECT count(*)::int FROM enrolments e WHERE e.unit_id = k.unit_id AND e.plan_year = k.plan_year) AS enrolled,
            (SELECT coalesce(sum(CASE e.plan WHEN 'PUBLIC' THEN $3::bigint ELSE $4::bigint END
                                 + CASE WHEN e.special_disease THEN $5::bigint ELSE 0 END), 0)::bigint
               FROM enrolments e WHERE e.unit_id = k.unit_id AND e.plan_year = k.plan_year) AS "owedFen",
            (SELECT coalesce(sum(amount_fen), 0)::bigint FROM standing_contribution_payments cp
              WHERE cp.unit_id = k.unit_id AND cp.plan_year = k.plan_year) AS "paidFen"
       FROM unnest($1::bigint[], $2::int[]) AS k(unit_id, plan_year)`,
    [keys.map((k) => k.unitId), keys.map((k) => k.planYear), ...contributionRates()],
  );
  const byKey = new Map(rows.map((r) => [`${r.unitId}:${r.planYear}`, r]));
  return keys.map((k) => byKey.get(`${k.unitId}:${k.planYear}`) ?? { enrolled: 0, owedFen: 0, paidFen: 0 });
}

function contributionRates(): number[] {
  return [CONTRIBUTION_FEN.PUBLIC, CONTRIBUTION_FEN.PRIVATE, CONTRIBUTION_FEN.SPECIAL_DISEASE];
}

const PAYMENT_COLUMNS = `id, unit_id AS "unitId", plan_year AS "planYear", amount_fen AS "amountFen", reference, paid_on AS "paidOn", source,
  (SELECT r.reversed_on FROM contribution_reversals r WHERE r.contribution_payment_id = contribution_payments.id) AS "reversedOn"`;

export async function contributionPayments(db: Queryable, keys: readonly ContributionKey[]): Promise<StoredContributionPayment[][]> {
  const { rows } = await db.query<StoredContributionPayment>(
    `SELECT ${PAYMENT_COLUMNS}
       FROM contribution_payments
      WHERE (unit_id, plan_year) IN (SELECT * FROM unnest($1::bigint[], $2::int[]))
      ORDER BY paid_on, id`,
    [keys.map((k) => k.unitId), keys.map((k) => k.planYear)],
  );
  return keys.map((k) => rows.filter((r) => r.unitId === k.unitId && r.planYear === k.planYear));
}

/** One payment by its id (for `node`; the caller checks who may see its unit's contribution). */
export async function contributionPaymentById(db: Queryable, id: number): Promise<StoredContributionPayment | null> {
  const { rows } = await db.query<StoredContributionPayment>(`SELECT ${PAYMENT_COLUMNS} FROM contribution_payments WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/**
 * Orders recording contribution payments by hand (`exclusive`) against reconciliation, which reads
 * the payments already recorded and then writes BANK payments for the credits none of them is
 * (`shared`, for the rest of its transaction): a clerk's payment commits before a chunk reads them,
 * or waits until the chunk has committed; it never lands in between to be counted twice.
 */
export async function lockContributionPayments(tx: Tx, mode: 'shared' | 'exclusive'): Promise<void> {
  await tx.query(mode === 'shared'
    ? `SELECT pg_advisory_xact_lock_shared(hashtext('contribution_payments'))`
    : `SELECT pg_advisory_xact_lock(hashtext('contribution_payments'))`);
}

export async function insertContributionPayment(
  tx: Tx,
  payment: ContributionPaymentRow & { recordedBy: string },
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (reference) DO NOTHING`,
    [payment.unitId, payment.planYear, payment.amountFen, payment.reference, payment.paidOn, payment.source, payment.recordedBy],
  );
  return rowCount === 1;
}

/**
 * Payments matched from bank statements (source BANK), in one statement: their ids by reference.
 * No conflict is expected: the caller chose references not recorded yet (`recordedContributionReferences`).
 */
export async function insertBankContributionPayments(
  tx: Tx,
  payments: readonly Omit<ContributionPaymentRow, 'source'>[],
  recordedBy: string,
): Promise<Map<string, number>> {
  const { rows } = await tx.query<{ id: number; reference: string }>(
    `INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by)
     SELECT unit_id, plan_year, amount_fen, reference, paid_on, 'BANK', $6
       FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::date[]) AS t(unit_id, plan_year, amount_fen, reference, paid_on)
     RETURNING id, reference`,
    [payments.map((p) => p.unitId), payments.map((p) => p.planYear), payments.map((p) => p.amountFen),
     payments.map((p) => p.reference), payments.map((p) => p.paidOn), recordedBy],
  );
  return new Map(rows.map((r) => [r.reference, r.id]));
}

/** Payments recorded in bulk where a repeated reference is skipped (the sample data of `hub demo`). */
export async function insertContributionPayments(
  db: Queryable,
  payments: readonly Omit<ContributionPaymentRow, 'source'>[],
  source: ContributionPaymentSource,
  recordedBy: string,
): Promise<void> {
  await db.query(
    `INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by)
     SELECT unit_id, plan_year, amount_fen, reference, paid_on, $6, $7
       FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::date[]) AS t(unit_id, plan_year, amount_fen, reference, paid_on)
     ON CONFLICT (reference) DO NOTHING`,
    [payments.map((p) => p.unitId), payments.map((p) => p.planYear), payments.map((p) => p.amountFen),
     payments.map((p) => p.reference), payments.map((p) => p.paidOn), source, recordedBy],
  );
}

/** Which of `references` a recorded payment already has. */
export async function recordedContributionReferences(db: Queryable, references: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ reference: string }>('SELECT reference FROM contribution_payments WHERE reference = ANY($1::text[])', [references]);
  return new Set(rows.map((r) => r.reference));
}

/** Accounts units were seen paying from (unit_payer_accounts), learned by reconciliation; known ones are kept. */
export async function learnUnitPayerAccounts(tx: Tx, payers: readonly { account: string; unitId: number }[]): Promise<void> {
  if (payers.length === 0) return;
  await tx.query(
    'INSERT INTO unit_payer_accounts (account, unit_id) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING',
    [payers.map((p) => p.account), payers.map((p) => p.unitId)],
  );
}

// ---- roster imports: the record of an upload ----

const ROSTER_IMPORT_COLUMNS = `id, file_name AS "fileName", status, rows_total AS "rowsTotal",
  rows_inserted AS "rowsInserted", rows_updated AS "rowsUpdated", rows_unchanged AS "rowsUnchanged",
  rows_rejected AS "rowsRejected", enrolments_created AS "enrolmentsCreated", failure,
  created_at AS "createdAt", finished_at AS "finishedAt"`;

export async function rosterImportsByIds(db: Queryable, ids: readonly number[]): Promise<RosterImportRow[]> {
  const { rows } = await db.query<RosterImportRow>(
    `SELECT ${ROSTER_IMPORT_COLUMNS} FROM roster_imports WHERE id = ANY($1)`,
    [ids],
  );
  return rows;
}

export async function rosterImportErrors(db: Queryable, importId: number, limit = 1000): Promise<RowError[]> {
  const { rows } = await db.query<RowError>(
    `SELECT row_number AS row, field, reason FROM roster_import_errors WHERE import_id = $1
      ORDER BY row_number, field LIMIT $2`,
    [importId, limit],
  );
  return rows;
}

/** Whether an organisation's staff's import (only_organisation_id) lies in `scope`: the only imports they may see. */
export async function isRosterImportInScope(db: Queryable, importId: number, scope: Scope): Promise<boolean> {
  const p = new Params();
  const { rows } = await db.query(
    `SELECT 1 FROM roster_imports r WHERE r.id = ${p.add(importId)} AND r.only_organisation_id IS NOT NULL
        AND ${organisationRowScopeSql(p, scope, 'r.only_organisation_id')}`, p.values);
  return rows.length > 0;
}

/** Whether a unit operator's import (only_unit_id) is of `unitId`: the only imports an operator may see. */
export async function isRosterImportOfUnit(db: Queryable, importId: number, unitId: number | null): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM roster_imports WHERE id = $1 AND only_unit_id = $2`, [importId, unitId]);
  return rows.length > 0;
}

/** A roster uploaded through the API, for a worker to import: its content stored encrypted. */
export interface UploadedRoster {
  fileName: string;
  sha256: Buffer;
  /** The file's text, encrypted; null when it is not text (`failure` says why). */
  contentEnc: Buffer | null;
  defaultUnitId: number | null;
  onlyUnitId: number | null;
  /** Staff of an organisation: only units in its subtree. */
  onlyOrganisationId: number | null;
  createdBy: Actor;
  /** Why the file cannot be imported at all: it is kept FAILED with this reason, like a file the worker refuses. */
  failure: string | null;
}

/** Stores an upload: PENDING, or FAILED at once with its `failure`. Its id. */
export async function insertUploadedRoster(db: Queryable, upload: UploadedRoster): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO roster_imports (file_name, sha256, content_enc, default_unit_id, only_unit_id, created_by, created_by_role,
                                 status, failure, finished_at, only_organisation_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::text IS NULL THEN 'PENDING' ELSE 'FAILED' END, $8,
             CASE WHEN $8::text IS NULL THEN NULL ELSE now() END, $9) RETURNING id`,
    [upload.fileName, upload.sha256, upload.contentEnc, upload.defaultUnitId, upload.onlyUnitId,
     upload.createdBy.subject, upload.createdBy.role, upload.failure, upload.onlyOrganisationId],
  );
  return rows[0]!.id;
}

/**
 * An import started where the file is read (the `hub` CLI, the demo): RUNNING from the start, its
 * checksum filled in once the file has been read (`setRosterImportSha256`). Its id.
 */
export async function insertRunningRosterImport(
  db: Queryable,
  start: { fileName: string; defaultUnitId: number | null; createdBy: string },
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO roster_imports (file_name, sha256, default_unit_id, status, created_by)
     VALUES ($1, '\\x', $2, 'RUNNING', $3) RETURNING id`,
    [start.fileName, start.defaultUnitId, start.createdBy],
  );
  return rows[0]!.id;
}

export async function setRosterImportSha256(db: Queryable, importId: number, sha256: Buffer): Promise<void> {
  await db.query('UPDATE roster_imports SET sha256 = $2 WHERE id = $1', [importId, sha256]);
}

/** An uploaded roster as a worker takes it up. */
export interface ClaimedRoster {
  status: RosterImportStatus;
  contentEnc: Buffer | null;
  defaultUnitId: number | null;
  onlyUnitId: number | null;
  onlyOrganisationId: number | null;
}

/** Marks an unfinished import RUNNING and returns what to import; null when it is DONE or FAILED already. */
export async function claimRosterImport(db: Queryable, importId: number): Promise<ClaimedRoster | null> {
  const { rows } = await db.query<ClaimedRoster>(
    `UPDATE roster_imports SET status = 'RUNNING' WHERE id = $1 AND status IN ('PENDING', 'RUNNING')
     RETURNING status, content_enc AS "contentEnc", default_unit_id AS "defaultUnitId", only_unit_id AS "onlyUnitId",
               only_organisation_id AS "onlyOrganisationId"`,
    [importId],
  );
  return rows[0] ?? null;
}

/** The import could not read its file: FAILED, with the reason. */
export async function failRosterImport(db: Queryable, importId: number, failure: string): Promise<void> {
  await db.query(`UPDATE roster_imports SET status = 'FAILED', failure = $2, finished_at = now() WHERE id = $1`, [importId, failure]);
}

/** Uploaded imports not finished yet (a worker re-adds their jobs, e.g. after Redis lost them). */
export async function unfinishedRosterImportIds(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM roster_imports WHERE status IN ('PENDING', 'RUNNING') AND content_enc IS NOT NULL`);
  return rows.map(({ id }) => id);
}

/** Whoever uploaded the roster (roster_imports): the author of its changes; null when there is no such import. */
export async function rosterImportUploader(tx: Tx, importId: number): Promise<Actor | null> {
  const { rows } = await tx.query<Actor>(
    `SELECT created_by AS subject, created_by_role AS role FROM roster_imports WHERE id = $1`,
    [importId],
  );
  return rows[0] ?? null;
}

/** The import's counts, and its rejected rows from the staging table (rosterRefusalLine, refuseStagedRows): DONE. */
export async function finishRosterImport(tx: Tx, importId: number, counts: RosterCounts): Promise<void> {
  await tx.query(
    `INSERT INTO roster_import_errors (import_id, row_number, field, reason)
     SELECT $1, row_number, field, reason FROM roster_stage WHERE reason IS NOT NULL`,
    [importId],
  );
  await tx.query(
    `UPDATE roster_imports SET status = 'DONE', rows_total = $2, rows_inserted = $3, rows_updated = $4,
            rows_unchanged = $5, rows_rejected = $6, enrolments_created = $7, failure = NULL, finished_at = now()
      WHERE id = $1`,
    [importId, counts.rowsTotal, counts.rowsInserted, counts.rowsUpdated, counts.rowsUnchanged,
     counts.rowsRejected, counts.enrolmentsCreated],
  );
}

// ---- roster imports: staging and merging the rows ----

/** Every unit a roster may name (by credit code): those in the subtree of `organisationId` when given. */
export async function rosterUnits(tx: Tx, organisationId: number | null = null): Promise<Pick<UnitRow, 'id' | 'creditCode' | 'planType' | 'organisationId'>[]> {
  const p = new Params();
  const scope: Scope = { unitId: null, memberId: null, organisationId };
  const { rows } = await tx.query<Pick<UnitRow, 'id' | 'creditCode' | 'planType' | 'organisationId'>>(
    `SELECT u.id, u.credit_code AS "creditCode", u.plan_type AS "planType", u.organisation_id AS "organisationId" FROM units u WHERE ${unitScopeSql(p, scope)}`,
    p.values,
  );
  return rows;
}

/** A checked roster row as staged: the member as stored (MemberWrite) and its enrolment, if any. */
export interface StagedRosterRow {
  rowNumber: number;
  member: MemberWrite;
  enrolment: { planYear: number; plan: PlanType; specialDisease: boolean; enrolledOn: string; memberCategories: readonly MemberCategory[] | null } | null;
}

/**
 * The staging table of an import (this transaction's, dropped at its end): the whole file, one line
 * per checked row, and one per refusal (`reason` set: the row's number, field, reason and their
 * order in the row). Duplicates and members of other units are refused here, in SQL, so Node holds
 * no more of the file than the chunk it is reading.
 */
export async function createRosterStage(tx: Tx): Promise<void> {
  // The merges join, group and sort the whole file at once: with the default 4 MB each spills to disk.
  await tx.query(`SET LOCAL work_mem = '64MB'`);
  await tx.query(`CREATE TEMP TABLE roster_stage (
      row_number int, unit_id bigint, name text, id_number_enc bytea, id_number_hash bytea,
      id_number_masked text, birth_date date, gender char(1), phone text, bank_card_enc bytea,
      bank_card_hash bytea, bank_card_masked text, bank_code char(12), plan_year int, plan text,
      special_disease boolean, enrolled_on date, member_categories text[],
      problem int, field text, reason text) ON COMMIT DROP`);
}

/**
 * One staged row as a line of COPY text (roster_stage's columns in order). Made while the file is
 * read, so Node formats the next chunk while PostgreSQL copies the previous one.
 */
export function rosterStageLine({ rowNumber, member: m, enrolment: e }: StagedRosterRow): string {
  return copyLine([
    rowNumber, m.unitId, m.name, m.idNumberEnc, m.idNumberHash, m.idNumberMasked, m.birthDate, m.gender,
    m.phone, m.bankCard?.enc ?? null, m.bankCard?.hash ?? null, m.bankCard?.masked ?? null,
    m.bankCard?.bankCode ?? null, e?.planYear ?? null, e?.plan ?? null, e?.specialDisease ?? null,
    e?.enrolledOn ?? null, e?.memberCategories ? `{${e.memberCategories.join(',')}}` : null, null, null, null,
  ]);
}

const NO_ROW_VALUES = '\\N\t'.repeat(17);

/** A refused row's problem as a line of COPY text: `problem` orders the row's problems. */
export function rosterRefusalLine(rowNumber: number, problem: number, field: string, reason: string): string {
  return `${rowNumber}\t${NO_ROW_VALUES}${problem}\t${copyValue(field)}\t${copyValue(reason)}\n`;
}

/** Appends `lines` (rosterStageLine, rosterRefusalLine) to the staged rows, by COPY. */
export async function stageRosterLines(tx: Tx, lines: readonly string[]): Promise<void> {
  await pipeline(Readable.from([lines.join('')]), tx.query(copyFrom('COPY roster_stage FROM STDIN')));
}

/**
 * Refuses every staged row whose ID number an earlier staged row has (`reason` + that row's
 * number), then every staged row of a member of another unit: no import moves a member (ADMIN does,
 * with moveMember). The number of rows refused by each.
 */
export async function refuseStagedRows(tx: Tx, duplicateOf: string, elsewhere: string): Promise<{ duplicates: number; elsewhere: number }> {
  await tx.query('ANALYZE roster_stage');
  const duplicates = await tx.query(
    `UPDATE roster_stage s SET problem = 0, field = 'id_number', reason = $1 || d.first
       FROM (SELECT id_number_hash, min(row_number) AS first FROM roster_stage
              WHERE reason IS NULL GROUP BY id_number_hash HAVING count(*) > 1) d
      WHERE s.id_number_hash = d.id_number_hash AND s.row_number <> d.first AND s.reason IS NULL`,
    [duplicateOf],
  );
  return { duplicates: duplicates.rowCount ?? 0, elsewhere: await refuseStagedRowsOfOtherUnits(tx, elsewhere) };
}

/**
 * Refuses every staged row (not refused yet) of a member of another unit; the number refused. Run
 * before the merges, and again after them when another transaction changed the roster meanwhile
 * (rosterImport.ts): a member registered elsewhere in between is left alone by both merges.
 */
export async function refuseStagedRowsOfOtherUnits(tx: Tx, elsewhere: string): Promise<number> {
  const others = await tx.query(
    `UPDATE roster_stage s SET problem = 0, field = 'id_number', reason = $1
       FROM members m
      WHERE m.id_number_hash = s.id_number_hash AND m.unit_id <> s.unit_id AND s.reason IS NULL`,
    [elsewhere],
  );
  return others.rowCount ?? 0;
}

/** The first `limit` refusals of the staged file, by row and in each row's order; and how many there are. */
export async function stagedRosterErrors(tx: Tx, limit: number): Promise<{ errors: RowError[]; count: number }> {
  const { rows } = await tx.query<RowError>(
    `SELECT row_number AS row, field, reason FROM roster_stage WHERE reason IS NOT NULL ORDER BY row_number, problem LIMIT $1`,
    [limit],
  );
  const { rows: [total] } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM roster_stage WHERE reason IS NOT NULL`);
  return { errors: rows, count: total!.n };
}

/** SQL: whether the staged row `s` changes the member `m` (an empty phone or bank account keeps the one recorded). */
const memberChangedSql = (m: string, s: string) => `(${m}.name IS DISTINCT FROM ${s}.name
  OR (${s}.phone IS NOT NULL AND ${s}.phone IS DISTINCT FROM ${m}.phone)
  OR (${s}.bank_card_hash IS NOT NULL AND (${s}.bank_card_hash, ${s}.bank_code) IS DISTINCT FROM (${m}.bank_card_hash, ${m}.bank_code)))`;

/**
 * Staged rows not refused into members: only new members and real changes are written (the same
 * file again writes nothing), and each changed field is written to member_changes in the same
 * statement. Rows are matched to members first, so unchanged ones never reach ON CONFLICT.
 */
export async function mergeStagedMembers(
  tx: Tx,
  author: ChangeAuthor,
): Promise<{ inserted: number; updated: number; changes: Record<string, number> }> {
  const p = new Params();
  const { rows } = await tx.query<{ inserted: number; updated: number; changes: Record<string, number> }>(`
    WITH a AS (
      INSERT INTO members AS m (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender,
                                phone, bank_card_enc, bank_card_hash, bank_card_masked, bank_code)
      SELECT s.unit_id, s.name, s.id_number_enc, s.id_number_hash, s.id_number_masked, s.birth_date, s.gender,
             s.phone, s.bank_card_enc, s.bank_card_hash, s.bank_card_masked, s.bank_code
        FROM roster_stage s LEFT JOIN members o ON o.id_number_hash = s.id_number_hash
       WHERE s.reason IS NULL AND (o.id IS NULL OR ${memberChangedSql('o', 's')})
       ORDER BY s.row_number -- ids in the file's order
      ON CONFLICT (id_number_hash) DO UPDATE
         SET name = excluded.name,
             phone = coalesce(excluded.phone, m.phone),
             bank_card_enc = coalesce(excluded.bank_card_enc, m.bank_card_enc),
             bank_card_hash = coalesce(excluded.bank_card_hash, m.bank_card_hash),
             bank_card_masked = coalesce(excluded.bank_card_masked, m.bank_card_masked),
             bank_code = coalesce(excluded.bank_code, m.bank_code),
             ${bankCardCoolingOffSetSql('excluded.bank_card_hash', 'excluded.bank_code', { subject: p.add(author.actor.subject), role: p.add(author.actor.role) })},
             updated_at = now()
       -- Never across units, not even for a member another transaction has just added.
       WHERE m.unit_id = excluded.unit_id AND ${memberChangedSql('m', 'excluded')}
      RETURNING ${CHANGE_COLUMNS}, (xmax = 0) AS inserted),
    ${memberChangesCteSql(p, author, 'NOT a.inserted')}
    SELECT (SELECT count(*) FROM a WHERE inserted)::int AS inserted, (SELECT count(*) FROM a WHERE NOT inserted)::int AS updated,
           (SELECT coalesce(jsonb_object_agg(field, n), '{}') FROM (SELECT field, count(*)::int AS n FROM logged GROUP BY field) f) AS changes`,
    p.values);
  return rows[0]!;
}

/**
 * Refuses on `plan_year` every staged row (not refused yet) that would enrol a member of its unit
 * whose enrolment of that year is with another unit, the one they were in when it was made: it
 * stays there (that unit owes for it, and its payments cover it), so the row changes nothing of it.
 * The number refused.
 */
export async function refuseStagedRowsEnrolledElsewhere(tx: Tx, reason: string): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE roster_stage s SET problem = 0, field = 'plan_year', reason = $1
       FROM members m JOIN enrolments e ON e.member_id = m.id
      -- Only a moved member has an enrolment of another unit (every move is in its change history,
      -- member_changes_moves): found there, not by joining every staged row to its enrolments.
      WHERE m.id IN (SELECT c.member_id FROM member_changes c WHERE c.field = 'UNIT')
        AND m.id_number_hash = s.id_number_hash AND m.unit_id = s.unit_id
        AND e.plan_year = s.plan_year AND e.unit_id <> s.unit_id AND s.reason IS NULL`,
    [reason],
  );
  return rowCount ?? 0;
}

/**
 * Refuses on `plan_year` every staged row (not refused yet) that would create an enrolment of a
 * member of its unit approved a condolence (慰问金) of that year: it is paid to workers not enrolled
 * in the year. Run under the years' lock (lockPlanYearEnrolments), so no approval commits after it
 * before the merges do. The number refused.
 */
export async function refuseStagedRowsOfCondolences(tx: Tx, reason: string): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE roster_stage s SET problem = 0, field = 'plan_year', reason = $1
       FROM members m JOIN condolences k ON k.member_id = m.id AND k.status = 'APPROVED'
      WHERE m.id_number_hash = s.id_number_hash AND m.unit_id = s.unit_id AND k.plan_year = s.plan_year AND s.reason IS NULL
        AND NOT EXISTS (SELECT 1 FROM enrolments e WHERE e.member_id = m.id AND e.plan_year = s.plan_year)`,
    [reason],
  );
  return rowCount ?? 0;
}

/**
 * Staged enrolments of rows not refused; a renewal directly after last year's enrolment keeps its
 * chain start (no new waiting period). Rows are matched to the recorded enrolment first (an empty
 * member_categories cell keeps those recorded), so only new and changed ones are written. An
 * enrolment's unit never changes (rows of another unit's enrolment are refused before:
 * refuseStagedRowsEnrolledElsewhere). The import's `author` joins categories_set_by of each
 * enrolment whose groups it sets, as enrolMember's caller does (0057). A row turning the
 * SPECIAL_DISEASE add-on on for a recorded enrolment starts it on `today`, the import's day.
 */
export async function mergeStagedEnrolments(tx: Tx, author: ChangeAuthor, today: string): Promise<{ created: number }> {
  const groups = `coalesce(s.member_categories, cur.member_categories, '{}')`;
  const { rows } = await tx.query<{ created: number }>(`
    WITH enrolled AS (
      INSERT INTO enrolments AS e (member_id, unit_id, plan_year, plan, special_disease, special_disease_from, enrolled_on, first_enrolled_on,
                                   member_categories, categories_set_by)
      SELECT m.id, s.unit_id, s.plan_year, s.plan, s.special_disease, CASE WHEN s.special_disease THEN s.enrolled_on END, s.enrolled_on,
             coalesce(prev.first_enrolled_on, s.enrolled_on), ${groups}, ${newCategorySettersSql(groups, '$1::text')}
        FROM roster_stage s
        -- The row's unit's member only: one registered elsewhere since the refusal keeps their enrolment.
        JOIN members m ON m.id_number_hash = s.id_number_hash AND m.unit_id = s.unit_id
        LEFT JOIN enrolments cur ON cur.member_id = m.id AND cur.plan_year = s.plan_year
        LEFT JOIN enrolments prev ON prev.member_id = m.id AND prev.plan_year = s.plan_year - 1
       WHERE s.reason IS NULL AND s.plan_year IS NOT NULL
         AND (cur.id IS NULL OR (cur.plan, cur.special_disease, cur.member_categories)
              IS DISTINCT FROM (s.plan, s.special_disease, coalesce(s.member_categories, cur.member_categories)))
       ORDER BY s.row_number
      ON CONFLICT (member_id, plan_year) DO UPDATE
         SET plan = excluded.plan, special_disease = excluded.special_disease,
             -- Turned on for an enrolment recorded: from the import's day, never back-dated (a roster overrides
             -- nothing; specialDiseaseFrom), nor before a date of a year not begun.
             ${specialDiseaseFromOnConflictSql('greatest($2::date, e.enrolled_on)')},
             member_categories = excluded.member_categories,
             ${categorySettersOnConflictSql('excluded.member_categories', '$1::text')},
             ${OVERRIDE_ON_CONFLICT_SQL}, -- a roster overrides nothing: the row passed eligibility (rosterImport.ts)
             updated_at = now()
       -- Never across units: an enrolment stays with the unit it was made in.
       WHERE e.unit_id = excluded.unit_id AND (e.plan, e.special_disease, e.member_categories)
             IS DISTINCT FROM (excluded.plan, excluded.special_disease, excluded.member_categories)
      RETURNING (xmax = 0) AS created)
    SELECT count(*) FILTER (WHERE created)::int AS created FROM enrolled`, [author.actor.subject, today]);
  return rows[0]!;
}

// ---- the roster's epoch (roster_changes) ----

/**
 * A snapshot of the database now, and whether a transaction that changed units, members or
 * enrolments (roster_changes, filled by triggers) committed since `snapshot` (always, when null).
 * The asking transaction's own changes do not count.
 */
export async function lookAtRosterChanges(db: Queryable, snapshot: string | null): Promise<{ snapshot: string; changed: boolean }> {
  // Named: prepared once per connection, since a busy gateway looks thousands of times a second.
  const { rows } = await db.query<{ snapshot: string; changed: boolean }>({
    name: 'roster-epoch-look',
    text: `SELECT pg_current_snapshot()::text AS snapshot,
                  $1::pg_snapshot IS NULL OR EXISTS (
                    SELECT 1 FROM roster_changes
                     WHERE xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, $1::pg_snapshot)
                       AND xid IS DISTINCT FROM pg_current_xact_id_if_assigned()) AS changed`,
    values: [snapshot],
  });
  return rows[0]!;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
