import type { Queryable, Tx } from '../kernel/transaction.ts';
import type { Page } from '../kernel/page.ts';
import type { Scope } from '../kernel/scope.ts';
import { isObject } from '../kernel/text.ts';
import { Params } from '../db/sql.ts';
import { byKey, keysetSql } from '../db/keyset.ts';
import { memberRowScopeSql, memberScopeSql } from '../db/scope.ts';
import { AMOUNT_FIELDS, type Amounts } from '../settlements/model.ts';
import type { ApplicationChannel, ApplicationReturnReason, ApplicationStatus } from './model.ts';

/**
 * SQL of the applications domain (applications, application_attachments). Reads take the members'
 * `Scope` (a unit operator sees its unit's members' applications, a member its own). Each status
 * change names the status it moves from (model.ts APPLICATION_TRANSITIONS).
 */

// Rows as the store reads them (they carry the settlements' amount fields, which a model may not import).

/** The stay and its figures as the documents show them (validated). */
export interface ApplicationStay {
  hospitalCode: string;
  hospitalName: string;
  medType: string;
  admittedOn: string;
  dischargedOn: string;
  diagnoses: string[];
  amounts: Amounts;
}

export interface ApplicationRow extends ApplicationStay {
  id: number;
  memberId: number;
  /** The member's unit (scope checks). */
  unitId: number;
  channel: ApplicationChannel;
  status: ApplicationStatus;
  round: number;
  /** The last submitter. */
  submittedBy: string;
  submittedRole: string;
  /** Every staff person who submitted a round of it (filled by a trigger, never emptied): none of them accepts it. */
  enteredBy: string[];
  /** Every subject that submitted a round of it as the MEMBER (the same trigger, migration 0063): nor do they. */
  memberSubmitters: string[];
  firstSubmittedAt: Date;
  submittedAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  returnReason: ApplicationReturnReason | null;
  returnNote: string | null;
  settlementId: number | null;
}

const COLUMNS = `a.id, a.member_id AS "memberId", m.unit_id AS "unitId", a.channel, a.status, a.round,
  a.fixmedins_code AS "hospitalCode", a.fixmedins_name AS "hospitalName", a.med_type AS "medType",
  to_char(a.begndate, 'YYYY-MM-DD') AS "admittedOn", to_char(a.enddate, 'YYYY-MM-DD') AS "dischargedOn", a.diagnoses,
  jsonb_build_object(${AMOUNT_FIELDS.map((f) => `'${f.field}', a.${f.field}`).join(', ')}) AS amounts,
  a.submitted_by AS "submittedBy", a.submitted_role AS "submittedRole", a.entered_by AS "enteredBy",
  a.member_submitters AS "memberSubmitters",
  a.first_submitted_at AS "firstSubmittedAt", a.submitted_at AS "submittedAt", a.decided_by AS "decidedBy", a.decided_at AS "decidedAt",
  a.return_reason AS "returnReason", a.return_note AS "returnNote", a.settlement_id AS "settlementId"`;

const FROM = `applications a JOIN members m ON m.id = a.member_id`;

type ApplicationRecord = Omit<ApplicationRow, 'amounts'> & { amounts: unknown };

// jsonb numbers arrive as JSON.parse made them: checked to be whole fen (or null) before use.
function applicationRow(record: ApplicationRecord): ApplicationRow {
  const value = record.amounts;
  if (!isObject(value)) throw new TypeError(`application ${record.id}: amounts are not an object`);
  for (const { field } of AMOUNT_FIELDS) {
    const fen = value[field];
    if (fen !== null && !Number.isSafeInteger(fen)) throw new TypeError(`application ${record.id}: ${field} is not a whole number of fen`);
  }
  return { ...record, amounts: value as Amounts };
}

const stayValues = (s: ApplicationStay) => [
  s.hospitalCode, s.hospitalName, s.medType, s.admittedOn, s.dischargedOn, s.diagnoses, ...AMOUNT_FIELDS.map((f) => s.amounts[f.field]),
];
const STAY_COLUMNS = ['fixmedins_code', 'fixmedins_name', 'med_type', 'begndate', 'enddate', 'diagnoses', ...AMOUNT_FIELDS.map((f) => f.field)];

export interface NewApplication {
  memberId: number;
  channel: ApplicationChannel;
  stay: ApplicationStay;
  submittedBy: string;
  submittedRole: string;
}

export async function insertApplication(tx: Tx, a: NewApplication): Promise<number> {
  const values = [a.memberId, a.channel, a.submittedBy, a.submittedRole, ...stayValues(a.stay)];
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO applications (member_id, channel, submitted_by, submitted_role, ${STAY_COLUMNS.join(', ')})
     VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    values,
  );
  return rows[0]!.id;
}

/** RETURNED → SUBMITTED with the stay as it now stands; the next round. False when it is not RETURNED. */
export async function resubmitApplication(tx: Tx, id: number, stay: ApplicationStay, by: { subject: string; role: string }): Promise<boolean> {
  const values = [id, by.subject, by.role, ...stayValues(stay)];
  const { rowCount } = await tx.query(
    `UPDATE applications SET status = 'SUBMITTED', round = round + 1, submitted_by = $2, submitted_role = $3, submitted_at = now(),
            decided_by = NULL, decided_at = NULL, return_reason = NULL, return_note = NULL,
            ${STAY_COLUMNS.map((c, i) => `${c} = $${i + 4}`).join(', ')}
      WHERE id = $1 AND status = 'RETURNED'`,
    values,
  );
  return rowCount === 1;
}

/** SUBMITTED → ACCEPTED with its settlement. False when it is not SUBMITTED. */
export async function acceptApplication(tx: Tx, id: number, decidedBy: string, settlementId: number): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE applications SET status = 'ACCEPTED', decided_by = $2, decided_at = now(), settlement_id = $3
      WHERE id = $1 AND status = 'SUBMITTED'`,
    [id, decidedBy, settlementId],
  );
  return rowCount === 1;
}

/** SUBMITTED → RETURNED with the reason. False when it is not SUBMITTED. */
export async function returnApplication(tx: Tx, id: number, decidedBy: string, reason: ApplicationReturnReason, note: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE applications SET status = 'RETURNED', decided_by = $2, decided_at = now(), return_reason = $3, return_note = $4
      WHERE id = $1 AND status = 'SUBMITTED'`,
    [id, decidedBy, reason, note],
  );
  return rowCount === 1;
}

/**
 * The application, locked for a decision or a resubmission (in `scope`), or null. Its member and unit
 * are locked too (FOR SHARE; the member FOR NO KEY UPDATE for a `change`, as lockMemberInScope) and
 * the scope checked on them: after waiting for the application, the check runs again on the member
 * and unit as a move committed meanwhile left them.
 */
export async function lockApplication(tx: Tx, id: number, scope: Scope, member: 'read' | 'change' = 'read'): Promise<ApplicationRow | null> {
  const p = new Params();
  const { rows } = await tx.query<ApplicationRecord>(
    `SELECT ${COLUMNS} FROM ${FROM} JOIN units u ON u.id = m.unit_id
      WHERE a.id = ${p.add(id)} AND ${memberScopeSql(p, scope, 'm', 'u')}
        FOR UPDATE OF a FOR ${member === 'read' ? 'SHARE' : 'NO KEY UPDATE'} OF m FOR SHARE OF u`,
    p.values,
  );
  return rows[0] ? applicationRow(rows[0]) : null;
}

export async function linkAttachments(tx: Tx, applicationId: number, round: number, attachmentIds: readonly number[]): Promise<void> {
  if (!attachmentIds.length) return;
  await tx.query(
    `INSERT INTO application_attachments (application_id, attachment_id, round)
     SELECT $1, unnest($3::bigint[]), $2 ON CONFLICT DO NOTHING`,
    [applicationId, round, attachmentIds],
  );
}

/** The attachment ids of each application, oldest first. */
export async function attachmentIdsOf(db: Queryable, applicationIds: readonly number[]): Promise<number[][]> {
  const { rows } = await db.query<{ applicationId: number; ids: number[] }>(
    `SELECT application_id AS "applicationId", array_agg(attachment_id ORDER BY round, attachment_id)::int8[] AS ids
       FROM application_attachments WHERE application_id = ANY($1::bigint[]) GROUP BY application_id`,
    [applicationIds],
  );
  const byApplication = new Map(rows.map((r) => [r.applicationId, r.ids.map(Number)]));
  return applicationIds.map((id) => byApplication.get(id) ?? []);
}

/**
 * Other applications of the member waiting or accepted for the same stay (same hospital, dates and
 * total, both inpatient or both not, as for settlements), oldest first: a second application for
 * one stay is refused.
 */
export async function sameStayApplications(
  db: Queryable, memberId: number, stay: Pick<ApplicationStay, 'hospitalCode' | 'admittedOn' | 'dischargedOn'> & { totalFen: number; inpatient: boolean },
  except: number | null,
): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM applications
      WHERE member_id = $1 AND fixmedins_code = $2 AND medfee_sumamt = $3 AND begndate = $4 AND enddate = $5 AND (med_type LIKE '2%') = $7
        AND status <> 'RETURNED' AND id IS DISTINCT FROM $6 ORDER BY id`,
    [memberId, stay.hospitalCode, stay.totalFen, stay.admittedOn, stay.dischargedOn, except, stay.inpatient],
  );
  return rows.map((r) => r.id);
}

/** The claim an accepted application's settlement became, as its turnaround needs it. */
export interface ClaimPayment {
  settlementId: number;
  /** When its payout was paid (PAID or SETTLED: a returned payment is unpaid again). */
  paidAt: Date | null;
  /** Something is to be paid: undecided, or approved with a payable total. */
  paymentExpected: boolean;
}

/** The claims of these settlements (none yet for one not adjudicated). */
export async function claimPaymentsOf(db: Queryable, settlementIds: readonly number[]): Promise<Map<number, ClaimPayment>> {
  const { rows } = await db.query<ClaimPayment>(
    `SELECT c.settlement_id AS "settlementId", CASE WHEN p.status IN ('PAID', 'SETTLED') THEN p.paid_at END AS "paidAt",
            (c.status IN ('PENDING_REVIEW', 'APPROVED') AND c.total_fen > 0) AS "paymentExpected"
       FROM claims c LEFT JOIN claim_payments p ON p.claim_id = c.id
      WHERE c.settlement_id = ANY($1::bigint[])`,
    [settlementIds],
  );
  return new Map(rows.map((r) => [r.settlementId, r]));
}

export interface ApplicationFilter {
  memberId?: number | null;
  status?: ApplicationStatus | null;
  channel?: ApplicationChannel | null;
}

function filterSql(p: Params, scope: Scope, f: ApplicationFilter): string {
  const where = [memberRowScopeSql(p, scope, 'a')];
  if (f.memberId != null) where.push(`a.member_id = ${p.add(f.memberId)}`);
  if (f.status) where.push(`a.status = ${p.add(f.status)}`);
  if (f.channel) where.push(`a.channel = ${p.add(f.channel)}`);
  return where.join(' AND ');
}

const NEWEST_FIRST = byKey('a.id', 'DESC');

export async function applicationsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<ApplicationRow[]> {
  const p = new Params();
  const { rows } = await db.query<ApplicationRecord>(
    `SELECT ${COLUMNS} FROM ${FROM} WHERE a.id = ANY(${p.add(ids)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'a')}`,
    p.values,
  );
  return rows.map(applicationRow);
}

export async function listApplications(db: Queryable, scope: Scope, filter: ApplicationFilter, page: Page): Promise<ApplicationRow[]> {
  const p = new Params();
  const where = filterSql(p, scope, filter);
  const keyset = keysetSql(p, NEWEST_FIRST, page);
  const { rows } = await db.query<ApplicationRecord>(
    `SELECT ${COLUMNS} FROM ${FROM} WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows.map(applicationRow);
}

export async function countApplications(db: Queryable, scope: Scope, filter: ApplicationFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${FROM} WHERE ${filterSql(p, scope, filter)}`, p.values);
  return rows[0]!.n;
}
