import type { Queryable } from '../db/pool.ts';
import { Params } from '../db/sql.ts';
import type { Actor } from '../audit/audit.ts';
import { CONTRIBUTION_FEN, type PlanType } from './contributions.ts';
import type { ContributionKey, EnrolmentRow, MemberChangeRow, MemberRow, RosterImportRow, UnitRow } from './rows.ts';
import { groupBy, type Page } from '../kernel/page.ts';

/**
 * SQL of the members domain. Every read takes a `Scope`: the rows a caller may see, enforced in
 * the WHERE clause so an out-of-scope row is never even loaded.
 */
export interface Scope {
  /** Only this unit's members (UNIT_OPERATOR). */
  unitId: number | null;
  /** Only this member (MEMBER). */
  memberId: number | null;
}

export const UNSCOPED: Scope = { unitId: null, memberId: null };

const UNIT_COLUMNS = `u.id, u.credit_code AS "creditCode", u.name, u.plan_type AS "planType",
  u.created_at AS "createdAt", u.updated_at AS "updatedAt"`;

const MEMBER_COLUMNS = `m.id, m.unit_id AS "unitId", m.name, m.id_number_masked AS "idNumberMasked",
  m.birth_date AS "birthDate", m.gender, m.phone, m.bank_card_masked AS "bankCardMasked",
  m.bank_code AS "bankCode", m.bank_card_changed_at AS "bankCardChangedAt", m.bank_card_changed_by AS "bankCardChangedBy",
  m.bank_card_confirmed_at AS "bankCardConfirmedAt", m.bank_card_confirmed_by AS "bankCardConfirmedBy",
  m.created_at AS "createdAt", m.updated_at AS "updatedAt"`;

const ENROLMENT_COLUMNS = `e.id, e.member_id AS "memberId", e.unit_id AS "unitId", e.plan_year AS "planYear",
  e.plan, e.special_disease AS "specialDisease", e.enrolled_on AS "enrolledOn",
  e.first_enrolled_on AS "firstEnrolledOn"`;

// A unit is visible to a member or operator only when it is their own.
function unitScopeSql(p: Params, scope: Scope): string {
  const parts: string[] = [];
  if (scope.unitId !== null) parts.push(`u.id = ${p.add(scope.unitId)}`);
  if (scope.memberId !== null) parts.push(`u.id = (SELECT unit_id FROM members WHERE id = ${p.add(scope.memberId)})`);
  return parts.length ? parts.join(' AND ') : 'true';
}

function memberScopeSql(p: Params, scope: Scope): string {
  const parts: string[] = [];
  if (scope.unitId !== null) parts.push(`m.unit_id = ${p.add(scope.unitId)}`);
  if (scope.memberId !== null) parts.push(`m.id = ${p.add(scope.memberId)}`);
  return parts.length ? parts.join(' AND ') : 'true';
}

/**
 * The scope of rows that belong to a member (`<alias>.member_id`: settlements, claims, payouts): a
 * unit operator sees those of its unit's members, a member their own.
 */
export function memberRowScopeSql(p: Params, scope: Scope, alias: string): string {
  const parts: string[] = [];
  if (scope.unitId !== null) parts.push(`EXISTS (SELECT 1 FROM members m WHERE m.id = ${alias}.member_id AND m.unit_id = ${p.add(scope.unitId)})`);
  if (scope.memberId !== null) parts.push(`${alias}.member_id = ${p.add(scope.memberId)}`);
  return parts.length ? parts.join(' AND ') : 'true';
}

// ---- units ----

export interface UnitFilter {
  name?: string | null;
  planType?: PlanType | null;
  creditCode?: string | null;
}

function unitFilterSql(p: Params, scope: Scope, filter: UnitFilter): string {
  const where = [unitScopeSql(p, scope)];
  if (filter.name) where.push(`u.name ILIKE ${p.add(`%${escapeLike(filter.name)}%`)}`);
  if (filter.planType) where.push(`u.plan_type = ${p.add(filter.planType)}`);
  if (filter.creditCode) where.push(`u.credit_code = ${p.add(filter.creditCode)}`);
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

export async function listUnits(db: Queryable, scope: Scope, filter: UnitFilter, page: Page): Promise<UnitRow[]> {
  const p = new Params();
  const where = unitFilterSql(p, scope, filter);
  const after = page.afterKey === null ? '' : `AND u.id > ${p.add(page.afterKey)}`;
  const { rows } = await db.query<UnitRow>(
    `SELECT ${UNIT_COLUMNS} FROM units u WHERE ${where} ${after} ORDER BY u.id LIMIT ${p.add(page.limit)}`,
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

export async function insertUnit(db: Queryable, unit: { creditCode: string; name: string; planType: PlanType }): Promise<UnitRow | null> {
  const { rows } = await db.query<UnitRow>(
    `INSERT INTO units AS u (credit_code, name, plan_type) VALUES ($1, $2, $3)
     ON CONFLICT (credit_code) DO NOTHING RETURNING ${UNIT_COLUMNS}`,
    [unit.creditCode, unit.name, unit.planType],
  );
  return rows[0] ?? null;
}

export async function updateUnit(
  db: Queryable,
  id: number,
  changes: { name?: string | null; planType?: PlanType | null },
): Promise<UnitRow | null> {
  const { rows } = await db.query<UnitRow>(
    `UPDATE units AS u SET name = coalesce($2, u.name), plan_type = coalesce($3, u.plan_type), updated_at = now()
     WHERE u.id = $1 RETURNING ${UNIT_COLUMNS}`,
    [id, changes.name ?? null, changes.planType ?? null],
  );
  return rows[0] ?? null;
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
  const where = [memberScopeSql(p, scope)];
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
    `SELECT ${MEMBER_COLUMNS} FROM members m WHERE m.id = ANY(${p.add(ids)}) AND ${memberScopeSql(p, scope)}`,
    p.values,
  );
  return rows;
}

export async function listMembers(db: Queryable, scope: Scope, filter: MemberFilter, page: Page): Promise<MemberRow[]> {
  const p = new Params();
  const where = memberFilterSql(p, scope, filter);
  const after = page.afterKey === null ? '' : `AND m.id > ${p.add(page.afterKey)}`;
  const { rows } = await db.query<MemberRow>(
    `SELECT ${MEMBER_COLUMNS} FROM members m WHERE ${where} ${after} ORDER BY m.id LIMIT ${p.add(page.limit)}`,
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
  const after = page.afterKey === null ? '' : `AND m.id > ${p.add(page.afterKey)}`;
  const { rows } = await db.query<MemberRow>(
    `SELECT page.* FROM unnest(${p.add(unitIds)}::bigint[]) AS parent(id)
     CROSS JOIN LATERAL (SELECT ${MEMBER_COLUMNS} FROM members m
                          WHERE m.unit_id = parent.id AND ${where} ${after}
                          ORDER BY m.id LIMIT ${p.add(page.limit)}) page`,
    p.values,
  );
  return groupBy(rows, (row) => row.unitId);
}

export interface MemberWrite {
  unitId: number;
  name: string;
  idNumberEnc: Buffer;
  idNumberHash: Buffer;
  idNumberMasked: string;
  birthDate: string;
  gender: 'M' | 'F';
  phone: string | null;
  bankCard: { enc: Buffer; hash: Buffer; masked: string; bankCode: string } | null;
}

export async function insertMember(db: Queryable, m: MemberWrite): Promise<MemberRow | null> {
  const { rows } = await db.query<MemberRow>(
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
  action: 'roster.import' | 'member.update' | 'member.move';
  /** Set for `roster.import`, and only then. */
  importId?: number | null;
  reason?: string | null;
}

/**
 * SET clauses of members (alias m) for a write bringing the bank account (`hash`, `code`, null when
 * none): when it replaces a different account (card or bank code), the cooling-off of migration
 * 0007 starts: changed now by `changedBy`, unconfirmed. A member's first account starts none.
 */
export function bankCardCoolingOffSetSql(hash: string, code: string, changedBy: string): string {
  const replaced = `(m.bank_card_hash IS NOT NULL AND ${hash} IS NOT NULL
                     AND (${hash}, ${code}) IS DISTINCT FROM (m.bank_card_hash, m.bank_code))`;
  return `bank_card_changed_at = CASE WHEN ${replaced} THEN now() ELSE m.bank_card_changed_at END,
          bank_card_changed_by = CASE WHEN ${replaced} THEN ${changedBy} ELSE m.bank_card_changed_by END,
          bank_card_confirmed_at = CASE WHEN ${replaced} THEN NULL ELSE m.bank_card_confirmed_at END,
          bank_card_confirmed_by = CASE WHEN ${replaced} THEN NULL ELSE m.bank_card_confirmed_by END`;
}

/** A member_changes row as a write returns it. */
export type RecordedChange = Pick<MemberChangeRow, 'id' | 'field' | 'before' | 'after'>;

/** Columns a change is compared on: the CTE `a` of a member write returns them. */
export const CHANGE_COLUMNS = 'm.id, m.unit_id, m.name, m.phone, m.bank_card_hash, m.bank_card_masked, m.bank_code';

/**
 * SQL: a data-modifying CTE `logged` writing one member_changes row per changed field of the members
 * in `a` (after the write, filtered by `where`), in the statement that writes them. The rows before
 * are read from members itself: every part of one statement sees the snapshot taken before it.
 * Values as staff see them: the unit by credit code, the bank account masked with its bank code.
 */
export function memberChangesCteSql(p: Params, by: ChangeAuthor, where = 'true'): string {
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
 * in one statement. A replaced bank account starts the cooling-off. Null when the member is gone.
 */
export async function changeMember(
  db: Queryable,
  id: number,
  c: MemberChanges,
  by: ChangeAuthor,
): Promise<{ member: MemberRow; changes: RecordedChange[] } | null> {
  const p = new Params();
  const card = c.bankCard;
  const hash = `${p.add(card?.hash ?? null)}::bytea`;
  const code = `${p.add(card?.bankCode ?? null)}::char(12)`;
  const { rows } = await db.query<MemberRow & { changes: RecordedChange[] }>(
    `WITH a AS (
       UPDATE members AS m
          SET name = coalesce(${p.add(c.name ?? null)}, m.name), phone = coalesce(${p.add(c.phone ?? null)}, m.phone),
              unit_id = coalesce(${p.add(c.unitId ?? null)}::bigint, m.unit_id),
              bank_card_enc = coalesce(${p.add(card?.enc ?? null)}::bytea, m.bank_card_enc), bank_card_hash = coalesce(${hash}, m.bank_card_hash),
              bank_card_masked = coalesce(${p.add(card?.masked ?? null)}, m.bank_card_masked), bank_code = coalesce(${code}, m.bank_code),
              ${bankCardCoolingOffSetSql(hash, code, p.add(by.actor.subject))},
              updated_at = now()
        WHERE m.id = ${p.add(id)}
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
 * A second person confirms a member's replaced bank account, ending its cooling-off. Refused by the
 * database (CHECK) for the one who changed it; null when no change is waiting.
 */
export async function confirmBankCardChange(db: Queryable, id: number, confirmedBy: string): Promise<MemberRow | null> {
  const { rows } = await db.query<MemberRow>(
    `UPDATE members AS m SET bank_card_confirmed_at = now(), bank_card_confirmed_by = $2
      WHERE m.id = $1 AND m.bank_card_changed_at IS NOT NULL AND m.bank_card_confirmed_by IS NULL
      RETURNING ${MEMBER_COLUMNS}`,
    [id, confirmedBy],
  );
  return rows[0] ?? null;
}

/** A member's changes, newest first (keyset on id, descending), for several members in one query. */
export async function changesOfMembers(db: Queryable, memberIds: number[], page: Page): Promise<Map<number, MemberChangeRow[]>> {
  const p = new Params();
  const after = page.afterKey === null ? '' : `AND c.id < ${p.add(page.afterKey)}`;
  const { rows } = await db.query<MemberChangeRow>(
    `SELECT page.* FROM unnest(${p.add(memberIds)}::bigint[]) AS parent(id)
     CROSS JOIN LATERAL (SELECT c.id, c.member_id AS "memberId", c.at, c.actor, c.role, c.action, c.import_id AS "importId",
                                c.reason, c.field, c.before, c.after
                           FROM member_changes c WHERE c.member_id = parent.id ${after}
                          ORDER BY c.id DESC LIMIT ${p.add(page.limit)}) page`,
    p.values,
  );
  return groupBy(rows, (row) => row.memberId);
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

/** One page of enrolments (newest plan year first) for each of several members, in one query. */
export async function enrolmentsOfMembers(
  db: Queryable,
  memberIds: number[],
  filter: EnrolmentFilter,
  page: Page,
): Promise<Map<number, EnrolmentRow[]>> {
  const p = new Params();
  const where = ['e.member_id = parent.id'];
  if (filter.planYear != null) where.push(`e.plan_year = ${p.add(filter.planYear)}`);
  if (filter.plan) where.push(`e.plan = ${p.add(filter.plan)}`);
  // Plan year is unique per member, so it is the keyset (descending).
  if (page.afterKey !== null) where.push(`e.plan_year < ${p.add(page.afterKey)}`);
  const { rows } = await db.query<EnrolmentRow>(
    `SELECT page.* FROM unnest(${p.add(memberIds)}::bigint[]) AS parent(id)
     CROSS JOIN LATERAL (SELECT ${ENROLMENT_COLUMNS} FROM enrolments e WHERE ${where.join(' AND ')}
                          ORDER BY e.plan_year DESC LIMIT ${p.add(page.limit)}) page`,
    p.values,
  );
  return groupBy(rows, (row) => row.memberId);
}

export async function enrolmentsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<EnrolmentRow[]> {
  const p = new Params();
  const { rows } = await db.query<EnrolmentRow>(
    `SELECT ${ENROLMENT_COLUMNS} FROM enrolments e JOIN members m ON m.id = e.member_id
      WHERE e.id = ANY(${p.add(ids)}) AND ${memberScopeSql(p, scope)}`,
    p.values,
  );
  return rows;
}

export type EnrolmentWrite = Omit<EnrolmentRow, 'id' | 'firstEnrolledOn'>;

/**
 * Enrols a member for a plan year, or changes that year's plan. A renewal directly after the
 * previous plan year keeps the chain's first-enrolment date (no new waiting period).
 */
export async function upsertEnrolment(db: Queryable, e: EnrolmentWrite): Promise<{ row: EnrolmentRow; created: boolean }> {
  const { rows } = await db.query<EnrolmentRow & { created: boolean }>(
    `INSERT INTO enrolments AS e (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
     SELECT $1, $2, $3, $4, $5, $6::date,
            coalesce((SELECT prev.first_enrolled_on FROM enrolments prev
                       WHERE prev.member_id = $1 AND prev.plan_year = $3 - 1), $6::date)
     ON CONFLICT (member_id, plan_year) DO UPDATE
        SET unit_id = excluded.unit_id, plan = excluded.plan, special_disease = excluded.special_disease,
            updated_at = now()
     RETURNING ${ENROLMENT_COLUMNS}, (xmax = 0) AS created`,
    [e.memberId, e.unitId, e.planYear, e.plan, e.specialDisease, e.enrolledOn],
  );
  const { created, ...row } = rows[0]!;
  return { row, created };
}

// ---- contributions ----

export interface ContributionFigures {
  enrolled: number;
  owedFen: number;
  paidFen: number;
}

export async function contributionFigures(db: Queryable, keys: readonly ContributionKey[]): Promise<ContributionFigures[]> {
  const { rows } = await db.query<ContributionFigures & { unitId: number; planYear: number }>(
    `SELECT k.unit_id AS "unitId", k.plan_year AS "planYear",
            (SELECT count(*)::int FROM enrolments e WHERE e.unit_id = k.unit_id AND e.plan_year = k.plan_year) AS enrolled,
            (SELECT coalesce(sum(CASE e.plan WHEN 'PUBLIC' THEN $3::bigint ELSE $4::bigint END
                                 + CASE WHEN e.special_disease THEN $5::bigint ELSE 0 END), 0)::bigint
               FROM enrolments e WHERE e.unit_id = k.unit_id AND e.plan_year = k.plan_year) AS "owedFen",
            (SELECT coalesce(sum(amount_fen), 0)::bigint FROM contribution_payments cp
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

export interface ContributionPaymentRow {
  unitId: number;
  planYear: number;
  amountFen: number;
  reference: string;
  paidOn: string;
  source: 'MANUAL' | 'BANK';
}

export async function contributionPayments(db: Queryable, keys: readonly ContributionKey[]): Promise<ContributionPaymentRow[][]> {
  const { rows } = await db.query<ContributionPaymentRow>(
    `SELECT unit_id AS "unitId", plan_year AS "planYear", amount_fen AS "amountFen", reference,
            paid_on AS "paidOn", source
       FROM contribution_payments
      WHERE (unit_id, plan_year) IN (SELECT * FROM unnest($1::bigint[], $2::int[]))
      ORDER BY paid_on, id`,
    [keys.map((k) => k.unitId), keys.map((k) => k.planYear)],
  );
  return keys.map((k) => rows.filter((r) => r.unitId === k.unitId && r.planYear === k.planYear));
}

export async function insertContributionPayment(
  db: Queryable,
  payment: Omit<ContributionPaymentRow, 'source'> & { source: 'MANUAL' | 'BANK'; recordedBy: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (reference) DO NOTHING`,
    [payment.unitId, payment.planYear, payment.amountFen, payment.reference, payment.paidOn, payment.source, payment.recordedBy],
  );
  return rowCount === 1;
}

// ---- roster imports ----

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

export async function rosterImportErrors(
  db: Queryable,
  importId: number,
  limit = 1000,
): Promise<{ row: number; field: string; reason: string }[]> {
  const { rows } = await db.query<{ row: number; field: string; reason: string }>(
    `SELECT row_number AS row, field, reason FROM roster_import_errors WHERE import_id = $1
      ORDER BY row_number, field LIMIT $2`,
    [importId, limit],
  );
  return rows;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
