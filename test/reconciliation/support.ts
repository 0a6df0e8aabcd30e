import type pg from 'pg';
import { writeCamt053, type AccountStatement } from '../../src/banks/iso20022/camt.ts';
import { signedFen, type CamtEntry } from '../../src/banks/iso20022/camtEntry.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import type { Actor } from '../../src/audit/audit.ts';
import type { ManualPayment } from '../../src/members/contributions.ts';
import { contributionReference } from '../../src/members/model.ts';
import { contributionFigures } from '../../src/members/store.ts';
import { recordManualPayment } from '../../src/reconciliation/manualPayments.ts';
import { confirmDocument, receiveDocument, type DocumentOutcome, type IngestOptions } from '../../src/reconciliation/ingest.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';
import type { TestGateway } from '../support/gateway.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { claimOf, seedEnrolment, seedMember, seedSettlement, seedUnit, type MemberSetup } from '../benefits/seed.ts';

/** Helpers for reconciliation tests: units owing contributions, hand-written statements, table reads. */

/** A unit with `members` PUBLIC enrolments in `year` (100 CNY each), nothing paid. */
export async function owingUnit(db: pg.Pool, members: number, year = 2025): Promise<{ id: number; creditCode: string; reference: string; owedFen: number }> {
  const unit = await seedUnit(db, 'PUBLIC');
  for (let i = 0; i < members; i += 1) await seedEnrolment(db, await seedMember(db, unit.id), unit.id, { year });
  return { ...unit, reference: contributionReference(unit.creditCode, year), owedFen: members * 10_000 };
}

/**
 * Manual contribution payments for a unit's 2025, as the tests of their four eyes record and read
 * them, with FOUR_EYES_ABOVE_FEN at `above`: the payment, its recording (the proposal's id, or null
 * when recorded at once), the unit's paid total, and why a proposal waits for a second person.
 */
export function manualPayments(pool: () => pg.Pool, above: number) {
  return {
    payment: (unitId: number, amountFen: number, reference: string): ManualPayment => ({ unitId, planYear: 2025, amountFen, reference, paidOn: '2025-03-01' }),
    record: (actor: Actor, p: ManualPayment) => recordManualPayment(pool(), actor, UNSCOPED, p, above),
    paidFen: async (unitId: number) => (await contributionFigures(pool(), [{ unitId, planYear: 2025 }]))[0]!.paidFen,
    proposedBecause: async (id: number) => (await pool().query<{ reason: string }>(
      `SELECT reason FROM audit_log WHERE action = 'four_eyes.propose' AND target_id = $1`, [String(id)])).rows[0]?.reason,
  };
}

/**
 * A claim of the member refused CONTRIBUTION_UNPAID (INPATIENT 60 % of 8,000.00: 4,800.00 once
 * covered), with its settlement: what a payment covering the member would have decided again.
 */
export async function contributionRefusedClaim(db: pg.Pool, m: MemberSetup, options: Parameters<typeof adjudicateSettlements>[2]) {
  const settlementId = await seedSettlement(db, m, { psn: '8,000.00' });
  await adjudicateSettlements(db, [settlementId], options);
  const refused = (await claimOf(db, settlementId))!;
  if (refused.status !== 'INELIGIBLE' || refused.reasonCodes.join() !== 'CONTRIBUTION_UNPAID') {
    throw new Error(`the claim was to be refused CONTRIBUTION_UNPAID; it is ${refused.status} (${refused.reasonCodes.join(', ')})`);
  }
  return { ...refused, settlementId };
}

/**
 * What a second FINANCE person does with a manual contribution payment waiting for them, through
 * the API: reads the waiting ones (with what each would record), then confirms one.
 */
export async function waitingContributionPayments(gw: TestGateway, second: Parameters<TestGateway['query']>[0]): Promise<{ id: string; decision: { reference: string } }[]> {
  const { data } = await gw.query(second, `{ fourEyesProposals(filter: { kind: CONTRIBUTION_PAYMENT }) { edges { node { id decision } } } }`);
  return data.fourEyesProposals.edges.map((e: { node: { id: string; decision: { reference: string } } }) => e.node);
}

export async function confirmProposal(
  gw: TestGateway, second: Parameters<TestGateway['query']>[0], proposalId: string,
): Promise<{ proposal: { status: string } | null; userErrors: { field: string; message: string }[] }> {
  const { data } = await gw.query(second, `mutation($i: DecideFourEyesProposalInput!) { confirmFourEyesProposal(input: $i) { proposal { status } userErrors { field message } } }`,
    { i: { proposalId } });
  return data.confirmFourEyesProposal;
}

/**
 * What the tests' documents are received with: the hub's configured accounts as the tests' configuration
 * has them (RECONCILIATION_ACCOUNTS unset: the paying account, PAYOUT_ACCOUNT's default). A funder's
 * account and one a batch was paid from are the hub's too, without being listed here.
 */
export const HUB: IngestOptions = { accounts: [UNION_ACCOUNT] };

/**
 * A file a clerk imports and, as it has no bank seal, a second person confirms: the way a
 * hand-written statement moves money. Refused or already accepted documents need no confirmation.
 */
export async function importConfirmed(db: pg.Pool, xml: string, options: IngestOptions = HUB): Promise<DocumentOutcome> {
  const received = await receiveDocument(db, { xml, source: 'FILE', receivedBy: 'clerk-wang' }, options);
  if (received.status !== 'AWAITING_CONFIRMATION') return received;
  return confirmDocument(db, { subject: 'finance-li', role: 'FINANCE' }, received.documentId, 'checked against the bank portal', options);
}

let sequence = 0;

/** A booked entry of a hand-written statement; `ref` defaults to a fresh AcctSvcrRef. */
export function bookedEntry(creditDebit: 'CRDT' | 'DBIT', amountFen: number, date: string, over: Partial<CamtEntry> = {}): CamtEntry {
  sequence += 1;
  return {
    amountFen, creditDebit, status: 'BOOK', bookingDate: date, valueDate: date, accountServicerRef: `HAND${date.replaceAll('-', '')}${String(sequence).padStart(6, '0')}`,
    bankTransactionCode: { domain: { code: 'PMNT', family: creditDebit === 'DBIT' ? 'ICDT' : 'RCDT', subFamily: 'DMCT' } },
    details: [], ...over,
  };
}

/** A camt.053 of one day whose closing balance is opening + its entries; final unless made (`createdAt`) before the day ended. */
export function handStatement(date: string, openingFen: number, entries: CamtEntry[], account = UNION_ACCOUNT, createdAt = `${date}T23:59:59+08:00`): string {
  const closingFen = entries.reduce((sum, e) => sum + signedFen(e), openingFen);
  const balance = (type: string, fen: number) => ({ type, amountFen: Math.abs(fen), creditDebit: fen < 0 ? 'DBIT' as const : 'CRDT' as const, date });
  const statement: AccountStatement = {
    id: `${account}-${date}`, createdAt, fromToDate: { from: `${date}T00:00:00+08:00`, to: `${date}T23:59:59+08:00` },
    account: { id: account, currency: 'CNY' }, balances: [balance('OPBD', openingFen), balance('CLBD', closingFen)], entries,
  };
  return writeCamt053({ msgId: `HAND053${date.replaceAll('-', '')}${sequence}`, createdAt, statements: [statement] });
}

export async function exceptionsOf(db: pg.Pool): Promise<{ kind: string; status: string; resolution: string | null; entryId: number | null; attemptId: number | null; amountFen: number }[]> {
  const { rows } = await db.query(
    `SELECT kind, status, resolution, entry_id AS "entryId", payout_attempt_id AS "attemptId", amount_fen AS "amountFen" FROM reconciliation_exceptions ORDER BY id`,
  );
  return rows;
}

/** Row counts of the reconciliation tables: a re-import or re-run must leave them as they are. */
export async function tableCounts(db: pg.Pool): Promise<Record<string, number>> {
  const tables = ['bank_documents', 'bank_statements', 'statement_entries', 'statement_entry_states', 'reconciliation_matches', 'reconciliation_exceptions', 'contribution_payments', 'audit_log'];
  const counts: Record<string, number> = {};
  for (const table of tables) counts[table] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
  return counts;
}
