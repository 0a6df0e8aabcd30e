import type pg from 'pg';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { decrypt, encrypt, type PersonalDataKeys } from '../privacy/personalData.ts';
import { maskedFields, protectSettlement } from './protect.ts';
import { applyCorrections, readCorrections, type FieldCorrection } from './records.ts';
import { catchApplicationDuplicates } from './fromApplication.ts';
import * as store from './store.ts';
import { copyProblems, validateSettlement, type SettlementFields, type SettlementProblem } from './validation.ts';

/**
 * Retry of a rejected record after correction: the corrections so far plus these are applied to
 * the record as received (which stays as it was, for audit) and validated again. A record that now
 * passes is stored under its source like any other; one that does not, or still contradicts another
 * source's copy of its setl_id, keeps its new problems.
 */
export interface RetryOutcome {
  outcome: 'STORED' | 'ALREADY_STORED' | 'STILL_INVALID';
  settlementId: number | null;
  problems: SettlementProblem[];
  /** Settlements for the match step. */
  toMatch: number[];
}

/** null when the rejection is not open (unknown, or already resolved). */
export async function retryRejection(
  db: pg.Pool,
  keys: PersonalDataKeys,
  rejectionId: number,
  corrections: readonly FieldCorrection[],
  actor: Actor,
): Promise<RetryOutcome | null> {
  return inTransaction(db, async (tx) => {
    const rejection = await store.lockOpenRejection(tx, rejectionId);
    if (!rejection) return null;
    const earlier = rejection.correctionsEnc ? readCorrections(decrypt(keys, rejection.correctionsEnc)) : [];
    const allCorrections = [...earlier, ...corrections];
    const record = applyCorrections(receivedFields(decrypt(keys, rejection.rawEnc)), allCorrections);
    const { value, problems: invalid } = validateSettlement(record);
    const page = value
      ? await store.insertSettlements(tx, rejection.source, rejection.runId, [protectSettlement(keys, value, record)], copyProblems)
      : { inserted: [], held: [] };
    // Valid, but contradicting another source's copy of its setl_id: held back, it keeps waiting for a person.
    const problems = [...invalid, ...page.held.flatMap((h) => h.problems)];

    let result: RetryOutcome;
    if (!value || problems.length) {
      await store.updateRejection(tx, rejection.id, {
        correctionsEnc: encrypt(keys, JSON.stringify(allCorrections)), rawMasked: maskedFields(record), problems,
      });
      result = { outcome: 'STILL_INVALID', settlementId: null, problems, toMatch: [] };
    } else {
      const [stored] = page.inserted;
      if (stored) {
        await store.resolveRejection(tx, rejection.id, 'RESOLVED', stored.id, actor.subject);
        const released = stored.kind === 'SETTLEMENT' ? await store.releaseWaitingReversals(tx, [stored.setlId]) : [];
        // A corrected record may be a stay an accepted application already paid: caught as its duplicate, never matched.
        const caught = value.stay.hospitalCode ? await catchApplicationDuplicates(tx, [stored.id]) : [];
        const own = caught.includes(stored.id) ? [] : [stored.id];
        result = { outcome: 'STORED', settlementId: stored.id, problems: [], toMatch: [...own, ...released] };
      } else {
        // The source sent it again meanwhile: that copy stands.
        const existing = (await store.settlementIdBySourceKey(tx, rejection.source, value.setlId))!;
        await store.resolveRejection(tx, rejection.id, 'SUPERSEDED', existing, actor.subject);
        result = { outcome: 'ALREADY_STORED', settlementId: existing, problems: [], toMatch: [] };
      }
    }
    await recordAudit(tx, actor, {
      action: 'settlement.rejection.retry', targetType: 'SettlementRejection', targetId: String(rejection.id),
      // Field names only: corrected values may be personal data.
      details: { source: rejection.source, corrected: [...new Set(corrections.map((c) => c.name))], outcome: result.outcome, settlementId: result.settlementId },
    });
    return result;
  });
}

/** The record as received; a line that was not a JSON object starts empty (corrections supply it). */
function receivedFields(raw: string): SettlementFields {
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as SettlementFields) : {};
  } catch {
    return {};
  }
}
