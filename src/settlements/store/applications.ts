import type { Queryable, Tx } from '../../kernel/transaction.ts';

/**
 * SQL of the settlements that accepted applications become (source `applications`), and of the
 * same-stay rule that keeps one stay from being paid twice: two settlements are the same stay when
 * they are of the same person (keyed hash of the ID number), both inpatient or both not (an
 * outpatient visit on the discharge day is another stay), at the same hospital (fixmedins_code),
 * for the same total (medfee_sumamt), ending on the same day (enddate, or the China date of setl_time
 * when the sender left it out: the platform settles a stay at discharge), and — when both say — starting
 * on the same day. A reversed settlement no longer stands for its stay against a later feed copy
 * (the platform's re-settlement is a stay of its own), but an application for it is still refused.
 */

export const APPLICATION_SOURCE = 'applications';

/** The source of application settlements, created on first use (its name is reserved for it by the table). */
export async function ensureApplicationSource(tx: Tx): Promise<void> {
  await tx.query(`INSERT INTO settlement_sources (name, kind) VALUES ('${APPLICATION_SOURCE}', 'APPLICATION') ON CONFLICT (name) DO NOTHING`);
}

/** Key of the advisory lock that orders a feed page's same-stay check against an acceptance's. */
const STAY_LOCK = `hashtextextended('settlement-stays', 0)`;

/**
 * Feed pages take the lock shared (they run side by side), an acceptance exclusive: whichever
 * commits first, the other's check (after the lock) sees its settlement.
 */
export async function lockStays(tx: Tx, mode: 'shared' | 'exclusive'): Promise<void> {
  await tx.query(mode === 'shared' ? `SELECT pg_advisory_xact_lock_shared(${STAY_LOCK})` : `SELECT pg_advisory_xact_lock(${STAY_LOCK})`);
}

// As isInpatient (../model.ts) tells it: the medical type starts with 2.
const inpatient = (s: string) => `(${s}.med_type LIKE '2%')`;

const dischargeDay = (s: string) => `coalesce(${s}.enddate, (${s}.setl_time AT TIME ZONE 'Asia/Shanghai')::date)`;

// By a reversal naming it, or one found to cancel it through a copy naming it (reverses_id).
const reversed = (s: string) => `EXISTS (SELECT 1 FROM settlements r WHERE r.kind = 'REVERSAL'
  AND (r.reverses_id = ${s}.id OR (r.reverses_setl_id = ${s}.setl_id AND r.certno_hash = ${s}.certno_hash)))`;

/** A settlement's hospital: its own, else the one its first copy from another source names (null when none does). */
const hospitalOf = (s: string) => `coalesce(${s}.fixmedins_code, (SELECT d.fixmedins_code FROM settlements d
  WHERE d.duplicate_of_id = ${s}.id AND d.fixmedins_code IS NOT NULL ORDER BY d.id LIMIT 1))`;

const standing = (s: string) => `${s}.kind = 'SETTLEMENT' AND ${s}.status <> 'DUPLICATE' AND NOT ${reversed(s)}`;

export interface StayKey {
  memberId: number;
  /** Of the application's medical type (model.ts `isInpatient`). */
  inpatient: boolean;
  hospitalCode: string;
  admittedOn: string;
  dischargedOn: string;
  totalFen: number;
}

export interface SameStaySettlement {
  /** The settlement holding the stay's claim. */
  id: number;
  source: string;
  /** The platform reversed it (冲销). */
  reversed: boolean;
}

/**
 * Settlements (from any source) of the member's stay, standing ones first, then oldest first. A copy
 * (DUPLICATE) of the stay stands for its original, as reversedSettlementSql (../store.ts) follows it:
 * the original may not name the hospital. A reversed one still carries the stay: the platform
 * settles a stay again as a new settlement, through the feed, never through an application.
 */
export async function sameStaySettlements(db: Queryable, key: StayKey): Promise<SameStaySettlement[]> {
  const { rows } = await db.query<SameStaySettlement>(
    `SELECT t.id, t.source, (${reversed('t')} OR ${reversed('s')}) AS reversed FROM members m
       JOIN settlements s ON s.certno_hash = m.id_number_hash AND s.medfee_sumamt = $3 AND s.fixmedins_code = $2
       JOIN settlements t ON t.id = coalesce(s.duplicate_of_id, s.id)
      WHERE m.id = $1 AND s.kind = 'SETTLEMENT' AND ${inpatient('s')} = $6 AND ${dischargeDay('s')} = $5::date
        AND (s.begndate IS NULL OR s.begndate = $4::date)
      ORDER BY reversed, t.id`,
    [key.memberId, key.hospitalCode, key.totalFen, key.admittedOn, key.dischargedOn, key.inpatient],
  );
  return rows;
}

/**
 * New feed settlements among `ids` whose stay an accepted application already settled become
 * DUPLICATE of that application's settlement (before any match: they get no claim). Returns them.
 */
export async function markApplicationDuplicates(tx: Tx, ids: readonly number[]): Promise<{ id: number; duplicateOfId: number }[]> {
  const { rows } = await tx.query<{ id: number; duplicateOfId: number }>(
    `UPDATE settlements f SET status = 'DUPLICATE', duplicate_of_id = a.id, matched_at = now(),
            member_id = (SELECT m.id FROM members m WHERE m.id_number_hash = f.certno_hash)
       FROM settlements a
      WHERE f.id = ANY($1::bigint[]) AND f.status = 'RECEIVED' AND f.kind = 'SETTLEMENT' AND f.source <> '${APPLICATION_SOURCE}'
        AND f.fixmedins_code IS NOT NULL
        AND a.source = '${APPLICATION_SOURCE}' AND a.fixmedins_code = f.fixmedins_code AND a.certno_hash = f.certno_hash
        AND ${inpatient('a')} = ${inpatient('f')}
        AND a.medfee_sumamt = f.medfee_sumamt AND a.enddate = ${dischargeDay('f')} AND (f.begndate IS NULL OR f.begndate = a.begndate)
        AND ${standing('a')}
     RETURNING f.id, a.id AS "duplicateOfId"`,
    [ids],
  );
  return rows;
}

/** Another settlement standing for what may be the same stay as `id`, with its figures and its claim. */
export interface OtherSettlementOfStay {
  /** The settlement asked about. */
  id: number;
  otherId: number;
  otherSource: string;
  otherSetlId: string;
  otherTotalFen: number;
  /** The other settlement's claim status; null while it has none (not matched or adjudicated yet). */
  otherClaimStatus: string | null;
  /** The hospital of the stay: the one either names (they name the same, or one names none); the asked one's when they differ. */
  hospitalCode: string;
  /** One of the two names no hospital (nor does a copy of it): a stay at any hospital that day may be this one. */
  hospitalUnnamed: boolean;
  /** Two inpatient stays naming different hospitals: the other's (null when they name the same, or one names none). */
  otherHospitalCode: string | null;
  dischargedOn: string;
}

/**
 * For each settlement among `ids`, the standing settlements of the same person that may be its stay
 * though the same-stay rule above, comparing totals and days exactly, let both through, when one of
 * the two is an accepted application: a member's misread sheet (a total, an admission day, a
 * discharge day off by one, a hospital code) or the platform's later correction. The same care
 * setting; an inpatient stay discharged the same day or a day apart at any hospital (a person is an
 * inpatient at one hospital at a time, and a member types the application's hospital code); an
 * outpatient visit on the same day at the same hospital (for a record that names none, the one its
 * copy from another source names; a record of whose hospital nothing is known may be a visit at
 * any); any admission day and total. Whose figures stand is a person's decision. A copy
 * (DUPLICATE) stands for its original, as in sameStaySettlements; a feed copy of `id` itself (it
 * became DUPLICATE of the application) is no other settlement.
 */
export async function otherSettlementsOfStays(db: Queryable, ids: readonly number[]): Promise<OtherSettlementOfStay[]> {
  if (!ids.length) return [];
  // Branches each an index answers: a feed settlement (nearly all) probes only the applications'
  // own index; an application the person's named settlements (settlements_stay) and those naming no
  // hospital (settlements_unnamed_person). One branch over all of a person's settlements had no index
  // but the table: a scan of every settlement for each application, and a plan costly enough to be
  // compiled (JIT) at every call, feed batches too.
  // Named: prepared once per connection, since every adjudication batch asks (planning was half its time).
  // Without JIT (for the caller's transaction, as firstCopiesOf): the plan is priced far above JIT's
  // thresholds (1.3 M, and 139 M since inpatient stays are compared across hospitals) for rows it
  // never reads (a feed batch finds no application), and compiling it took 4 to 6 s of every
  // adjudication batch of 100.
  await db.query("SELECT set_config('jit', 'off', true)");
  const { rows } = await db.query<OtherSettlementOfStay>({
    name: 'other-settlements-of-stays',
    text: `WITH s AS (
       SELECT s.id, s.source, s.certno_hash, ${inpatient('s')} AS inpatient, ${dischargeDay('s')} AS discharged, ${hospitalOf('s')} AS hospital
         FROM settlements s WHERE s.id = ANY($1::bigint[]) AND s.kind = 'SETTLEMENT'
     )
     SELECT s.id, t.id AS "otherId", t.source AS "otherSource", t.setl_id AS "otherSetlId", t.medfee_sumamt AS "otherTotalFen",
            (SELECT cl.status FROM claims cl WHERE cl.settlement_id = t.id) AS "otherClaimStatus",
            min(coalesce(s.hospital, ch.hospital)) AS "hospitalCode", bool_or(s.hospital IS NULL OR ch.hospital IS NULL) AS "hospitalUnnamed",
            CASE WHEN bool_or(s.hospital IS NULL OR ch.hospital IS NULL OR ch.hospital = s.hospital) THEN NULL ELSE min(ch.hospital) END AS "otherHospitalCode",
            to_char(s.discharged, 'YYYY-MM-DD') AS "dischargedOn"
       FROM s
       CROSS JOIN LATERAL (
         SELECT c.* FROM settlements c
          WHERE s.source <> '${APPLICATION_SOURCE}' AND c.source = '${APPLICATION_SOURCE}' AND c.certno_hash = s.certno_hash
         UNION ALL
         SELECT c.* FROM settlements c
          WHERE s.source = '${APPLICATION_SOURCE}' AND c.certno_hash = s.certno_hash AND c.fixmedins_code IS NOT NULL
         UNION ALL
         SELECT c.* FROM settlements c
          WHERE s.source = '${APPLICATION_SOURCE}' AND c.certno_hash = s.certno_hash AND c.fixmedins_code IS NULL
       ) c
       JOIN settlements t ON t.id = coalesce(c.duplicate_of_id, c.id)
       -- The other's hospital: its own, else that of the settlement it copies, else a copy's.
       CROSS JOIN LATERAL (SELECT coalesce(c.fixmedins_code, ${hospitalOf('t')}) AS hospital) ch
      WHERE c.kind = 'SETTLEMENT' AND c.id <> s.id AND t.id <> s.id
        AND (s.inpatient OR s.hospital IS NULL OR ch.hospital IS NULL OR ch.hospital = s.hospital)
        AND ${inpatient('c')} = s.inpatient
        AND CASE WHEN s.inpatient THEN abs(${dischargeDay('c')} - s.discharged) <= 1 ELSE ${dischargeDay('c')} = s.discharged END
        AND ${standing('t')}
      GROUP BY s.id, s.discharged, t.id
      ORDER BY s.id, t.id`,
    values: [ids],
  });
  return rows;
}

export interface MemberIdentity {
  name: string;
  idNumberEnc: Buffer;
  idNumberHash: Buffer;
  idNumberMasked: string;
}

/** The member's name and ID number as the members table keeps them (encrypted, hashed, masked). */
export async function memberIdentity(db: Queryable, memberId: number): Promise<MemberIdentity | null> {
  const { rows } = await db.query<MemberIdentity>(
    `SELECT name, id_number_enc AS "idNumberEnc", id_number_hash AS "idNumberHash", id_number_masked AS "idNumberMasked"
       FROM members WHERE id = $1`,
    [memberId],
  );
  return rows[0] ?? null;
}
