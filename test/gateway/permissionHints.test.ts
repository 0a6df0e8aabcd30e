import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import type { TokenClaims } from '../../src/gateway/auth.ts';
import { seedEnrolledMember, seedSettlement, totalOfClaim, type MemberSetup } from '../benefits/seed.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { approvedClaims, settings, keys } from '../payouts/support.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { createBatch } from '../../src/payouts/decisions.ts';
import { recordManualPayment } from '../../src/reconciliation/manualPayments.ts';
import { receiveDocument } from '../../src/reconciliation/ingest.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { bookedEntry, handStatement, HUB, importConfirmed, owingUnit } from '../reconciliation/support.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';

/**
 * Permission hints (`viewerCan…`) against the mutations they stand for. For every caller in a
 * table of roles and persons (the creator or proposer and someone else), in whatever state the
 * object has reached: the hint is true exactly when the mutation, called next by the same
 * caller, is not refused with FORBIDDEN or CONFLICT. Nothing here states the expected answer of
 * a case; each case is checked against the mutation itself. Each table also has to reach both
 * answers, so a hint stuck at false (or true) fails.
 */

type Auth = Partial<TokenClaims> & Pick<TokenClaims, 'role'>;

let db: TestDatabase;
let gw: TestGateway;
let a: MemberSetup;
/** Mutations answering a payload with `userErrors` (others answer the object and refuse with an error). */
let payloadMutations: Set<string>;

const ADMIN: Auth = { role: 'ADMIN', sub: 'admin-zhang' };
const AUDITOR: Auth = { role: 'AUDITOR', sub: 'auditor-lin' };
const REVIEWER_1: Auth = { role: 'REVIEWER', sub: 'rev-1' };
const REVIEWER_2: Auth = { role: 'REVIEWER', sub: 'rev-2' };
const FINANCE_A: Auth = { role: 'FINANCE', sub: 'finance-a' };
const FINANCE_B: Auth = { role: 'FINANCE', sub: 'finance-b' };
const SERVICE: Auth = { role: 'SERVICE', sub: 'portal' };

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  a = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  const { data } = await gw.query(ADMIN, `{ __schema { mutationType { fields { name type { name ofType { name fields { name } } } } } } }`);
  payloadMutations = new Set(data.__schema.mutationType.fields
    .filter((f: { type: { ofType: { fields: { name: string }[] | null } | null } }) => f.type.ofType?.fields?.some((x) => x.name === 'userErrors'))
    .map((f: { name: string }) => f.name));
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

/** The code a mutation was refused with (a top-level error, or the payload's first user error), or null when it went through. */
async function refusalOf(auth: Auth, mutation: string, input: Record<string, unknown>, inputType: string): Promise<string | null> {
  const selection = payloadMutations.has(mutation) ? '{ userErrors { code } }' : '{ __typename }';
  const res = await gw.query(auth, `mutation($input: ${inputType}!) { ${mutation}(input: $input) ${selection} }`, { input });
  const code = res.errors?.[0]?.extensions?.code ?? res.data?.[mutation]?.userErrors?.[0]?.code ?? null;
  if (code === 'BAD_USER_INPUT' || code === 'INVALID' || code === 'GRAPHQL_VALIDATION_FAILED') throw new Error(`${mutation}: the test's input is wrong: ${JSON.stringify(res)}`);
  return code as string | null;
}

const REFUSED = new Set(['FORBIDDEN', 'CONFLICT']);

/**
 * For each caller in turn: reads the hint on the object, then calls the mutation; the hint must
 * say whether the mutation goes through. Returns the hints seen, to check both answers occurred.
 */
async function checkHint(
  callers: Auth[], hint: { query: string; variables: Record<string, unknown>; read: (data: any) => boolean }, // eslint-disable-line @typescript-eslint/no-explicit-any
  mutation: { name: string; inputType: string; input: Record<string, unknown> },
): Promise<boolean[]> {
  const seen: boolean[] = [];
  for (const caller of callers) {
    const read = await gw.query(caller, hint.query, hint.variables);
    expect(read.errors, `${caller.sub} reading ${hint.query}`).toBeUndefined();
    const said = hint.read(read.data);
    const refusal = await refusalOf(caller, mutation.name, mutation.input, mutation.inputType);
    expect(said, `${caller.role} ${caller.sub}: hint ${said}, ${mutation.name} answered ${refusal ?? 'ok'}`).toBe(!REFUSED.has(refusal ?? ''));
    seen.push(said);
  }
  return seen;
}

const bothAnswers = (seen: boolean[]) => expect(new Set(seen)).toEqual(new Set([true, false]));

describe('payout batches', () => {
  it('viewerCanApprove, viewerCanSubmit, viewerCanCancel and viewerCanRevealFile say what the mutations do', async () => {
    await approvedClaims(db.pool, 2);
    await planPayouts(db.pool, settings);
    const first = (await createBatch(db.pool, { subject: FINANCE_A.sub!, role: 'FINANCE' }, settings, 1))!;
    const second = (await createBatch(db.pool, { subject: FINANCE_A.sub!, role: 'FINANCE' }, settings, 1))!;
    // The roles that may read batches (others cannot see a hint, and are refused anyway).
    const callers = [AUDITOR, ADMIN, FINANCE_A, FINANCE_B, FINANCE_A];
    const hintOf = (batchId: number, field: string) => ({
      query: `query($id: ID!) { payoutBatch(id: $id) { ${field} } }`, variables: { id: toGlobalId('PayoutBatch', batchId) },
      read: (data: { payoutBatch: Record<string, boolean> }) => data.payoutBatch[field]!,
    });
    const batch = (id: number, extra: Record<string, unknown> = {}) => ({ batchId: toGlobalId('PayoutBatch', id), ...extra });

    bothAnswers(await checkHint(callers, hintOf(first.id, 'viewerCanApprove'), { name: 'approvePayoutBatch', inputType: 'ApprovePayoutBatchInput', input: batch(first.id) }));
    bothAnswers(await checkHint(callers, hintOf(first.id, 'viewerCanSubmit'), { name: 'submitPayoutBatch', inputType: 'SubmitPayoutBatchInput', input: batch(first.id) }));
    // Not sealed (no workers here): refused to everyone, and the hint says so.
    await checkHint(callers, hintOf(first.id, 'viewerCanRevealFile'), {
      name: 'revealPayoutBatchFile', inputType: 'RevealPayoutBatchFileInput', input: batch(first.id, { reason: 'check the file' }),
    });
    bothAnswers(await checkHint(callers, hintOf(second.id, 'viewerCanCancel'), {
      name: 'cancelPayoutBatch', inputType: 'CancelPayoutBatchInput', input: batch(second.id, { reason: 'wrong payouts' }),
    }));
  });

  it('Payout.viewerCanRetry says what retryPayout does', async () => {
    const [claim] = await approvedClaims(db.pool, 1);
    await planPayouts(db.pool, settings);
    // The bank's rejection, as the status report would record it.
    const { rows: [payout] } = await db.pool.query<{ id: number }>(
      `UPDATE payouts SET status = 'FAILED', status_reason = 'AC04 closed account' WHERE claim_id = $1 RETURNING id`, [claim!.claimId],
    );
    const member = { role: 'MEMBER', member: toGlobalId('Member', claim!.memberId), sub: 'member-1' } as const;
    const seen = await checkHint([member, AUDITOR, REVIEWER_1, FINANCE_A, ADMIN], {
      query: `query($id: ID!) { payout(id: $id) { viewerCanRetry } }`, variables: { id: toGlobalId('Payout', payout!.id) },
      read: (data) => data.payout.viewerCanRetry,
    }, { name: 'retryPayout', inputType: 'RetryPayoutInput', input: { payoutId: toGlobalId('Payout', payout!.id), reason: 'new account given' } });
    bothAnswers(seen);
  });
});

describe('claims', () => {
  it('viewerCanAdjust, viewerCanApprove and viewerCanReject say what the review mutations do, four eyes included', async () => {
    const operator = { role: 'UNIT_OPERATOR', unit: a.creditCode, sub: 'operator-a' } as const;
    const member = { role: 'MEMBER', member: toGlobalId('Member', a.memberId), sub: 'member-a' } as const;
    const settlements = [await seedSettlement(db.pool, a, { psn: '40,000.00' }), await seedSettlement(db.pool, a, { psn: '30,000.00' })];
    await adjudicateSettlements(db.pool, settlements, { autoApproveMaxFen: 0 });
    const { rows } = await db.pool.query<{ claimId: number; lineId: number }>(
      `SELECT c.id AS "claimId", min(l.id) AS "lineId" FROM claims c JOIN benefit_lines l ON l.claim_id = c.id
        WHERE c.settlement_id = ANY($1::bigint[]) GROUP BY c.id, c.settlement_id ORDER BY c.settlement_id`, [settlements],
    );
    const [adjusted, rejected] = rows.map((r) => ({ id: toGlobalId('Claim', r.claimId), line: toGlobalId('BenefitLine', r.lineId), claimId: r.claimId }));
    const hintOf = (claimId: string, field: string) => ({
      query: `query($id: ID!) { claim(id: $id) { ${field} } }`, variables: { id: claimId }, read: (data: { claim: Record<string, boolean> }) => data.claim[field]!,
    });
    const staff = [member, operator, AUDITOR, FINANCE_A];

    bothAnswers(await checkHint([...staff, REVIEWER_1], hintOf(adjusted!.id, 'viewerCanAdjust'), {
      name: 'adjustClaimLine', inputType: 'AdjustClaimLineInput', input: { lineId: adjusted!.line, amountFen: 100, reason: 'items not covered' },
    }));
    // rev-1 adjusted it: rev-1 may not approve it, rev-2 may, and after that nobody may.
    bothAnswers(await checkHint([...staff, REVIEWER_1, REVIEWER_2, ADMIN], hintOf(adjusted!.id, 'viewerCanApprove'), {
      name: 'approveClaim', inputType: 'ApproveClaimInput', input: { claimId: adjusted!.id, checkedTotalFen: await totalOfClaim(db.pool, adjusted!.claimId) },
    }));
    bothAnswers(await checkHint([...staff, ADMIN, REVIEWER_2], hintOf(rejected!.id, 'viewerCanReject'), {
      name: 'rejectClaim', inputType: 'RejectClaimInput', input: { claimId: rejected!.id, reason: 'not a covered stay' },
    }));
    // Decided claims: every hint false, every mutation refused.
    for (const [field, name, inputType, input] of [
      ['viewerCanApprove', 'approveClaim', 'ApproveClaimInput', { claimId: rejected!.id, checkedTotalFen: await totalOfClaim(db.pool, rejected!.claimId) }],
      ['viewerCanAdjust', 'adjustClaimLine', 'AdjustClaimLineInput', { lineId: adjusted!.line, amountFen: 50, reason: 'lower again' }],
    ] as const) {
      const claimId = name === 'approveClaim' ? rejected!.id : adjusted!.id;
      await checkHint([REVIEWER_2, ADMIN], hintOf(claimId, field), { name, inputType, input });
    }
  });
});

describe('members', () => {
  it('viewerCanRevealPersonalData and viewerCanEdit say what revealMemberPersonalData and updateMember do, for every role that sees the member', async () => {
    const m = toGlobalId('Member', a.memberId);
    const callers: Auth[] = [
      ADMIN, AUDITOR, FINANCE_A, REVIEWER_1, SERVICE,
      { role: 'UNIT_OPERATOR', unit: a.creditCode, sub: 'operator-a' }, { role: 'MEMBER', member: m, sub: 'member-a' },
    ];
    const hintOf = (field: string) => ({ query: `query($id: ID!) { member(id: $id) { ${field} } }`, variables: { id: m }, read: (data: { member: Record<string, boolean> }) => data.member[field]! });
    bothAnswers(await checkHint(callers, hintOf('viewerCanRevealPersonalData'), {
      name: 'revealMemberPersonalData', inputType: 'RevealMemberPersonalDataInput', input: { memberId: m, reason: 'member called about a payout' },
    }));
    bothAnswers(await checkHint(callers, hintOf('viewerCanEdit'), { name: 'updateMember', inputType: 'UpdateMemberInput', input: { memberId: m, phone: '13800000009' } }));
  });
});

describe('reconciliation', () => {
  it('BankDocument.viewerCanConfirm says what confirmBankDocument does: never the person who handed it in', async () => {
    const date = '2025-07-01';
    const received = await receiveDocument(db.pool, { xml: handStatement(date, 500_000, [bookedEntry('CRDT', 10_000, date)]), source: 'FILE', receivedBy: FINANCE_A.sub! }, HUB);
    expect(received.status).toBe('AWAITING_CONFIRMATION');
    const id = toGlobalId('BankDocument', received.documentId);
    bothAnswers(await checkHint([AUDITOR, FINANCE_A, FINANCE_B, ADMIN], {
      query: `query($id: ID!) { node(id: $id) { ... on BankDocument { viewerCanConfirm } } }`, variables: { id }, read: (data) => data.node.viewerCanConfirm,
    }, { name: 'confirmBankDocument', inputType: 'ConfirmBankDocumentInput', input: { documentId: id, reason: 'checked on the bank portal' } }));
  });

  it('FourEyesProposal.viewerCanDecide says what confirmFourEyesProposal does: never the proposer', async () => {
    const unit = await owingUnit(db.pool, 2);
    const proposalId = await recordManualPayment(db.pool, { subject: FINANCE_A.sub!, role: 'FINANCE' }, UNSCOPED, {
      unitId: unit.id, planYear: 2025, amountFen: unit.owedFen, reference: 'TRANSFER-HINTS', paidOn: '2025-03-01',
    }, 0);
    const id = toGlobalId('FourEyesProposal', proposalId!);
    bothAnswers(await checkHint([AUDITOR, FINANCE_A, ADMIN, FINANCE_B], {
      query: `query($id: ID!) { node(id: $id) { ... on FourEyesProposal { viewerCanDecide } } }`, variables: { id }, read: (data) => data.node.viewerCanDecide,
    }, { name: 'confirmFourEyesProposal', inputType: 'DecideFourEyesProposalInput', input: { proposalId: id, reason: 'seen the transfer' } }));
  });

  it('ReconciliationException.viewerCanResolve says what writeOffReconciliationException does', async () => {
    const date = '2025-07-02';
    await importConfirmed(db.pool, handStatement(date, 500_000, [bookedEntry('DBIT', 321, date)]));
    await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: date });
    const { rows: [exception] } = await db.pool.query<{ id: number }>(`SELECT id FROM reconciliation_exceptions WHERE amount_fen = 321`);
    const id = toGlobalId('ReconciliationException', exception!.id);
    bothAnswers(await checkHint([AUDITOR, FINANCE_A, ADMIN], {
      query: `query($id: ID!) { node(id: $id) { ... on ReconciliationException { viewerCanResolve } } }`, variables: { id }, read: (data) => data.node.viewerCanResolve,
    }, { name: 'writeOffReconciliationException', inputType: 'WriteOffReconciliationExceptionInput', input: { exceptionId: id, reason: 'bank fee, booked by hand' } }));
  });
});
