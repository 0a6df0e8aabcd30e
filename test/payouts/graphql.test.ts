import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { openAccount, startBank, testFilePki } from '../banks/simulator/support.ts';
import { parseGlobalId, toGlobalId } from '../../src/gateway/globalId.ts';
import { verifySeal } from '../../src/seals/cms/verify.ts';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { publishStatusChanges } from '../../src/events/statusEvents.ts';
import { payoutStatusChange } from '../../src/payouts/submission.ts';
import { waitFor } from '../support/waitFor.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, keys, setBankCard, submissionContext, type ApprovedClaim } from './support.ts';

/** Payouts and batches as front-end teams and finance staff use them, over HTTP. */
const pki = testFilePki();
let db: TestDatabase;
let gw: TestGateway;
let claims: ApprovedClaim[];

const clerk = { role: 'ADMIN' as const, sub: 'clerk-li' };
const finance = { role: 'FINANCE' as const, sub: 'finance-wang' };
const BATCH = `id msgId status submission paymentCount totalFen createdBy approvedBy fileName attemptCounts { status count }`;

beforeAll(async () => {
  db = await freshDatabase();
  // The gateway and the payout worker share the personal-data key (the file is kept encrypted).
  gw = await startTestGateway(db, { PII_KEY: keys.encryptionKey.toString('base64') });
  claims = await approvedClaims(db.pool, 3, { 1: `${openAccount().slice(0, -4)}0004` });
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

describe('payout batches in GraphQL', () => {
  it('plans, creates, approves with four eyes, submits, and shows what the bank did', async () => {
    const plan = await gw.query(clerk, `mutation { planPayouts { plan { created held released cancelled } } }`);
    expect(plan.data.planPayouts.plan).toEqual({ created: 3, held: 0, released: 0, cancelled: 0 });

    const created = await gw.query(clerk, `mutation { createPayoutBatch(input: { maxPayouts: 10 }) { batch { ${BATCH} } userErrors { message } } }`);
    expect(created.data.createPayoutBatch.userErrors).toEqual([]);
    const batch = created.data.createPayoutBatch.batch;
    expect(batch).toMatchObject({ status: 'DRAFT', paymentCount: 3, totalFen: claims.reduce((s, c) => s + c.totalFen, 0), createdBy: 'clerk-li', fileName: null });
    expect(batch.attemptCounts).toEqual([{ status: 'PLANNED', count: 3 }]);

    // Nothing else is READY: a second batch is a clear conflict.
    const none = await gw.query(clerk, `mutation { createPayoutBatch(input: {}) { batch { id } userErrors { field code message } } }`);
    expect(none.data.createPayoutBatch).toEqual({ batch: null, userErrors: [{ field: null, code: 'CONFLICT', message: expect.stringContaining('no payout is READY') }] });

    // Four eyes: the clerk may not approve; FINANCE may, unless FINANCE created it.
    const byClerk = await gw.query(clerk, `mutation($id: ID!) { approvePayoutBatch(input: { batchId: $id }) { batch { status } } }`, { id: batch.id });
    expect(byClerk.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const approved = await gw.query(finance, `mutation($id: ID!) { approvePayoutBatch(input: { batchId: $id }) { batch { status approvedBy } } }`, { id: batch.id });
    expect(approved.data.approvePayoutBatch.batch).toEqual({ status: 'APPROVED', approvedBy: 'finance-wang' });
    const submitted = await gw.query(finance, `mutation($id: ID!) { submitPayoutBatch(input: { batchId: $id }) { batch { status } userErrors { message } } }`, { id: batch.id });
    expect(submitted.data.submitPayoutBatch.userErrors).toEqual([]);
    expect(await gw.queues.payouts.getJob(`payout-batch-${parseGlobalId(batch.id)!.id}`)).toBeTruthy();

    // What the worker does with the job (sealing, sending, reading the bank's answer).
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      expect(await advanceUntilFinal(ctx, parseGlobalId(batch.id)!.id)).toBe('PARTIALLY_ACCEPTED');
    } finally {
      ctx.remove();
    }

    const after = await gw.query(finance, `query($id: ID!) { payoutBatch(id: $id) { ${BATCH} file sealBase64 } }`, { id: batch.id });
    const shown = after.data.payoutBatch;
    expect(shown).toMatchObject({ status: 'PARTIALLY_ACCEPTED', submission: 'RECEIVED', fileName: `${shown.msgId}.xml` });
    expect(shown.attemptCounts).toEqual([{ status: 'PAID', count: 2 }, { status: 'REJECTED', count: 1 }]);
    // The file as sealed comes through the audited reveal; `file` is the masked copy.
    const revealed = await gw.query(finance, `mutation($id: ID!) { revealPayoutBatchFile(input: { batchId: $id, reason: "bank asked for the file" }) { file { fileName file sealBase64 } } }`, { id: batch.id });
    expect(revealed.data.revealPayoutBatchFile.file).toMatchObject({ fileName: shown.fileName, sealBase64: shown.sealBase64 });
    const seal = verifySeal(Buffer.from(revealed.data.revealPayoutBatchFile.file.file, 'utf8'), Buffer.from(shown.sealBase64, 'base64'), pki.bank.trust);
    expect(seal.valid).toBe(true);
    expect(shown.file).toContain('<CdtrAcct>');
    for (const claim of claims) expect(shown.file).not.toContain(claim.card);

    const failed = await gw.query(clerk, `query { payouts(filter: { status: FAILED }) { totalCount edges { node { id statusReason amountFen
      attempts { attemptNo endToEndId status reasonCode creditorAccountMasked batch { msgId } } claim { id } } } } }`);
    expect(failed.data.payouts.totalCount).toBe(1);
    const payout = failed.data.payouts.edges[0].node;
    expect(payout.claim.id).toBe(toGlobalId('Claim', claims[1]!.claimId));
    expect(payout.statusReason).toContain('AC04');
    expect(payout.attempts).toEqual([expect.objectContaining({ attemptNo: 1, status: 'REJECTED', reasonCode: 'AC04', batch: { msgId: shown.msgId } })]);
    expect(payout.attempts[0].creditorAccountMasked).not.toMatch(/^\d{16,}$/);

    const RETRY = `mutation($id: ID!, $reason: String!) { retryPayout(input: { payoutId: $id, reason: $reason }) { payout { status } userErrors { field code message } } }`;
    const tooShort = await gw.query(clerk, RETRY, { id: payout.id, reason: 'x' });
    expect(tooShort.data.retryPayout).toMatchObject({ payout: null, userErrors: [{ field: 'input.reason', code: 'INVALID' }] });
    await setBankCard(db.pool, claims[1]!.memberId, openAccount());
    const retried = await gw.query(clerk, RETRY, { id: payout.id, reason: 'member gave a new card' });
    expect(retried.data.retryPayout.payout.status).toBe('READY');
    const paidAgain = await gw.query(clerk, RETRY, { id: payout.id, reason: 'once more please' });
    expect(paidAgain.data.retryPayout).toMatchObject({ payout: null, userErrors: [{ code: 'CONFLICT', message: expect.stringContaining('only a payout that failed') }] });
  });

  it('shows a member only their own payouts and keeps batches from everyone but ADMIN, FINANCE and AUDITOR', async () => {
    const mine = claims[0]!;
    const member = { role: 'MEMBER' as const, member: toGlobalId('Member', mine.memberId) };
    const own = await gw.query(member, `query { payouts { totalCount edges { node { amountFen status attempts { batch { msgId } } } } } }`);
    expect(own.data.payouts.totalCount).toBe(1);
    expect(own.data.payouts.edges[0].node).toMatchObject({ amountFen: mine.totalFen, status: 'PAID', attempts: [{ batch: null }] });
    const batches = await gw.query(member, `query { payoutBatches { totalCount } }`);
    expect(batches.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const auditor = await gw.query({ role: 'AUDITOR' }, `query { payoutBatches { totalCount edges { node { status } } } }`);
    expect(auditor.data.payoutBatches.totalCount).toBe(1);
    const viaClaim = await gw.query(member, `query($id: ID!) { claim(id: $id) { payout { amountFen } } member: node(id: $m) { ... on Member { payouts { totalCount } } } }`.replace('query($id: ID!)', 'query($id: ID!, $m: ID!)'),
      { id: toGlobalId('Claim', mine.claimId), m: member.member });
    expect(viaClaim.data).toEqual({ claim: { payout: { amountFen: mine.totalFen } }, member: { payouts: { totalCount: 1 } } });
    // Another member's payout or claim looked up by id is null beside the rest of the answer: no error that tells it exists.
    const all = await gw.query({ role: 'ADMIN' }, `query { payouts(first: 50) { edges { node { id claim { id } } } } }`);
    const theirs = all.data.payouts.edges.map((e: { node: { id: string; claim: { id: string } } }) => e.node)
      .find((p: { claim: { id: string } }) => p.claim.id === toGlobalId('Claim', claims[1]!.claimId));
    const lookups = await gw.query(member, `query($p: ID!, $c: ID!) { viewer { role } payout(id: $p) { amountFen } claim(id: $c) { totalFen } }`,
      { p: theirs.id, c: toGlobalId('Claim', claims[1]!.claimId) });
    expect(lookups).toEqual({ data: { viewer: { role: 'MEMBER' }, payout: null, claim: null } });
  });

  it('tells a member, over a subscription, when their payout is sent and paid', async () => {
    const [claim] = await approvedClaims(db.pool, 1);
    const member = { role: 'MEMBER' as const, member: toGlobalId('Member', claim!.memberId) };
    const client = createClient({
      url: gw.url.replace('http:', 'ws:'), webSocketImpl: WebSocket, retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${await gw.token(member)}` },
    });
    const heard: { status: string; payout: { amountFen: number; member: { id: string } } }[] = [];
    client.subscribe<{ payoutStatusChanged: (typeof heard)[number] }>(
      { query: 'subscription { payoutStatusChanged { status payout { amountFen member { id } } } }' },
      { next: (r) => void (r.data && heard.push(r.data.payoutStatusChanged)), error: () => undefined, complete: () => undefined },
    );
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      const { rows: [payout] } = await db.pool.query(`SELECT id, member_id AS "memberId", unit_id AS "unitId" FROM payouts WHERE claim_id = $1`, [claim!.claimId]);
      // Live once an announcement comes through; that one is not compared.
      await waitFor('the subscription to be live', async () => {
        await publishStatusChanges(gw.redis, gw.prefix, [payoutStatusChange({ payoutId: payout.id, memberId: payout.memberId, unitId: payout.unitId, status: 'IN_BATCH' })]);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return heard.length > 0;
      }, 10_000);
      heard.length = 0;
      const announcing = { ...ctx, onChanges: (changes: Parameters<NonNullable<typeof ctx.onChanges>>[0]) => publishStatusChanges(gw.redis, gw.prefix, changes.map(payoutStatusChange)) };
      expect(await advanceUntilFinal(announcing, batch.id)).toBe('ACCEPTED');
      await waitFor('the payment to be heard', async () => heard.some((h) => h.status === 'PAID'), 10_000);
      expect(heard.map((h) => h.status)).toEqual(['SENT', 'PAID']);
      expect(heard[1]!.payout).toEqual({ amountFen: claim!.totalFen, member: { id: member.member } });
    } finally {
      ctx.remove();
      await client.dispose();
    }
  });
});
