import type { Queue } from 'bullmq';
import type { Queryable, Tx } from '../kernel/transaction.ts';
import { parseChinaTime } from '../kernel/time.ts';
import { encrypt, type PersonalDataKeys } from '../privacy/personalData.ts';
import { isInpatient, type Amounts, type SettlementWrite } from './model.ts';
import { maskName } from './protect.ts';
import { enqueueSettlementMatches } from './queue.ts';
import { APPLICATION_SETL_ID_PREFIX, copyProblems } from './validation.ts';
import * as store from './store.ts';
import * as stays from './store/applications.ts';

/**
 * Settlements of accepted applications: a source of their own (`applications`, kind APPLICATION),
 * stored like a feed settlement and then matched and adjudicated by the same jobs. What only the
 * platform knows gets values derived from the application: setl_id and mdtrt_id `APP-<application>`,
 * psn_no `APP-M<member>`, insutype 310 (employees' basic medical insurance: the programme's members);
 * the name and ID number are the member's own, kept as every settlement keeps them.
 *
 * One stay is paid once, whichever arrives first (src/settlements/store/applications.ts says when two
 * settlements are one stay):
 * - a feed settlement already stored: the application is refused on submission and on acceptance
 *   (also when only another source's copy of it names the hospital, and when the platform reversed it);
 * - an application accepted first: a feed settlement of the same stay arriving later is stored as
 *   DUPLICATE of the application's settlement, before any match, so it makes no claim. The
 *   application's claim (already decided, perhaps paid) stands: the member keeps the benefit.
 */

export { APPLICATION_SOURCE } from './store/applications.ts';
export type { StayKey } from './store/applications.ts';

export interface ApplicationSettlement {
  applicationId: number;
  memberId: number;
  hospitalCode: string;
  medType: string;
  admittedOn: string;
  dischargedOn: string;
  diagnoses: string[];
  amounts: Amounts;
}

/** The setl_id of an application's settlement (its prefix is refused from every other source). */
export const applicationSetlId = (applicationId: number) => `${APPLICATION_SETL_ID_PREFIX}${applicationId}`;

/** Settlements of the same stay (feed or application), standing ones first, then oldest first. */
export function sameStaySettlements(db: Queryable, key: stays.StayKey): Promise<stays.SameStaySettlement[]> {
  return stays.sameStaySettlements(db, key);
}

/**
 * Orders an acceptance against feed pages (exclusive): call it in the accepting transaction before
 * checking for a settlement of the same stay.
 */
export function lockStaysForAcceptance(tx: Tx): Promise<void> {
  return stays.lockStays(tx, 'exclusive');
}

/**
 * Stores the settlement of an accepted application in the caller's transaction (RECEIVED, for the
 * match step; hand its id to `enqueueApplicationSettlement` after the commit). Idempotent: the
 * application's setl_id is stored once. Returns its id.
 */
export async function settleApplication(tx: Tx, keys: PersonalDataKeys, a: ApplicationSettlement): Promise<number> {
  const identity = await stays.memberIdentity(tx, a.memberId);
  if (!identity) throw new TypeError(`application ${a.applicationId}: member ${a.memberId} does not exist`);
  const setlId = applicationSetlId(a.applicationId);
  // The stay ends at discharge: its settlement time (and so its plan year) is the discharge day.
  const setlTime = parseChinaTime(`${a.dischargedOn} 00:00:00`);
  if (!setlTime) throw new TypeError(`application ${a.applicationId}: discharge date ${a.dischargedOn} is not a date`);
  const write: SettlementWrite = {
    setlId, infno: isInpatient(a.medType) ? '2304' : '2207', kind: 'SETTLEMENT', reversesSetlId: null,
    mdtrtId: setlId, psnNo: `APP-M${a.memberId}`,
    psnNameEnc: encrypt(keys, identity.name), psnNameMasked: maskName(identity.name),
    certnoEnc: identity.idNumberEnc, certnoHash: identity.idNumberHash, certnoMasked: identity.idNumberMasked,
    insutype: '310', medType: a.medType, setlTime, diagnoses: a.diagnoses, amounts: a.amounts,
    stay: { hospitalCode: a.hospitalCode, admittedOn: a.admittedOn, dischargedOn: a.dischargedOn },
    // What the settlement was made from (figures only, no name or ID number), kept like a feed record.
    rawEnc: encrypt(keys, JSON.stringify({ application: a.applicationId, fixmedins_code: a.hospitalCode, med_type: a.medType,
      begndate: a.admittedOn, enddate: a.dischargedOn, diagnoses: a.diagnoses, ...a.amounts })),
  };
  await stays.ensureApplicationSource(tx);
  // Never held back: no other source may send an APP- setl_id.
  const { inserted: [inserted] } = await store.insertSettlements(tx, stays.APPLICATION_SOURCE, null, [write], copyProblems);
  if (inserted) return inserted.id;
  const existing = await store.settlementIdBySourceKey(tx, stays.APPLICATION_SOURCE, setlId);
  if (existing === null) throw new TypeError(`application ${a.applicationId}: settlement ${setlId} neither stored nor found`);
  return existing;
}

/** The match job of an application's settlement (the same job a feed settlement gets). */
export function enqueueApplicationSettlement(matchQueue: Queue, settlementId: number): Promise<void> {
  return enqueueSettlementMatches(matchQueue, [settlementId]);
}

/**
 * The ingest path's hook, in the transaction that stored a feed page: new feed settlements of a
 * stay an accepted application settled become DUPLICATE of it. Returns their ids (not to be matched).
 */
export async function catchApplicationDuplicates(tx: Tx, insertedIds: readonly number[]): Promise<number[]> {
  if (!insertedIds.length) return [];
  await stays.lockStays(tx, 'shared');
  return (await stays.markApplicationDuplicates(tx, insertedIds)).map((d) => d.id);
}
