import type { DomainResolvers } from '../gateway/payloads.ts';
import { actorOf, actorView, hasRole, isHubStaff, requireRole as requireStaffRole, type Context } from '../gateway/context.ts';
import type { Role } from '../gateway/auth.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import { type CountedConnection, countedTotal, readPage, toConnection } from '../gateway/connection.ts';
import { decideProposal, decisionRefusal } from './proposals.ts';
import { confirmationRefusal, confirmDocument, handedInSeal, processDocument, receiveDocument, type IngestOptions } from './ingest.ts';
import { configuredAccounts } from './settings.ts';
import type {
  BankDocumentRow, BankStatementRow, ProposalRow, ReconciliationExceptionRow, ReconciliationMatchRow, ReconciliationRunRow, StatementEntryRow,
} from './model.ts';
import { matchException, resolutionRefusal, writeOffException } from './resolve.ts';
import * as reads from './store/reads.ts';
import { countProposals, listProposals } from './store/resolutions.ts';
import { configuredBankSeal } from '../banks/settings.ts';
import { XsdUnavailableError } from './xsd.ts';
import { DAY_MS, isIsoDate } from '../kernel/time.ts';
import { check, checkAll, conflict, forbidden, notFound } from '../kernel/errors.ts';
import { enqueueDocument, enqueueReconciliation } from './queue.ts';
import { takeUpload, uploadedText } from '../gateway/files.ts';
import { enqueueDueRedecisions } from '../benefits/redecide.ts';

/** Connections as the GraphQL resolvers get them (codegen mappers): a page and a lazy count. */
export type BankDocumentConnectionResult = CountedConnection<BankDocumentRow>;
export type BankStatementConnectionResult = CountedConnection<BankStatementRow>;
export type StatementEntryConnectionResult = CountedConnection<StatementEntryRow>;
export type ReconciliationMatchConnectionResult = CountedConnection<ReconciliationMatchRow>;
export type ReconciliationExceptionConnectionResult = CountedConnection<ReconciliationExceptionRow> & { total?: () => Promise<number> };
export type ReconciliationRunConnectionResult = CountedConnection<ReconciliationRunRow>;
export type FourEyesProposalConnectionResult = CountedConnection<Awaited<ReturnType<typeof proposalView>>>;

/** Reconciliation is money evidence: read by ADMIN, FINANCE and AUDITOR; changed by ADMIN and FINANCE. */
const READ = ['ADMIN', 'FINANCE', 'AUDITOR'] as const;
export const WRITE = ['ADMIN', 'FINANCE'] as const;

const ACCOUNT = /^[0-9A-Za-z]{1,34}$/;
const MAX_UPLOAD_CHARS = 20 * 1024 * 1024;
const MAX_SEAL_CHARS = 64 * 1024;

/**
 * Statements, entries and exceptions are per account and hold every funder's money movements:
 * they are the hub's own staff's (tokens naming no organisation). Staff of an organisation see
 * their funders' figures instead (`funders { balance }`).
 */
function requireRole(ctx: Pick<Context, 'principal'>, roles: readonly Role[], operation: string): void {
  requireStaffRole(ctx, roles, operation);
  if (!isHubStaff(ctx.principal)) throw forbidden(`${operation} is for the hub's own staff; an organisation's staff see their funders' figures (funders { balance })`);
}

const canRead = (ctx: Context) => hasRole(ctx, READ) && isHubStaff(ctx.principal);

function accountArgument(field: string, account: string | null | undefined): string | null {
  if (account === null || account === undefined) return null;
  check(field, ACCOUNT.test(account) ? null : 'must be an account number (1 to 34 letters or digits)');
  return account;
}

function dateArgument(field: string, date: string | null | undefined): string | null {
  if (date === null || date === undefined) return null;
  check(field, isIsoDate(date) ? null : 'must be a date yyyy-MM-dd');
  return date;
}

/** A proposal as the API shows it (its unit and exception loaded). */
async function proposalView(p: ProposalRow, ctx: Context) {
  return {
    ...p, id: toGlobalId('FourEyesProposal', p.id),
    proposer: actorView(ctx, p.proposedBy),
    decider: p.decidedBy === null ? null : actorView(ctx, p.decidedBy),
    viewerCanDecide: hasRole(ctx, WRITE) && decisionRefusal(actorOf(ctx.principal), p, true) === null,
    unit: p.unitId === null ? null : await ctx.loaders.unit.load(p.unitId),
    exception: p.exceptionId === null ? null : await ctx.loaders.reconciliationException.load(p.exceptionId),
  };
}

/** What is wrong with a statement's size, inline or uploaded, or null. */
function documentProblem(xml: string): string | null {
  return xml.length > 0 && xml.length <= MAX_UPLOAD_CHARS ? null : `must be a file of 1 to ${MAX_UPLOAD_CHARS} characters`;
}

/** What is wrong with a handed-in seal, or null (none is fine: the document then waits for a second person). */
function sealProblem(sealBase64: string | null | undefined): string | null {
  if (sealBase64 === null || sealBase64 === undefined) return null;
  return sealBase64.length <= MAX_SEAL_CHARS && Buffer.from(sealBase64, 'base64').length > 0 && /^[A-Za-z0-9+/=\s]+$/.test(sealBase64)
    ? null : `must be a detached CMS seal in base64 (at most ${MAX_SEAL_CHARS} characters)`;
}

/** The hub's configured accounts go with every document: one about another account is refused. */
const ingestOptions = (ctx: Context): IngestOptions => ({ accounts: configuredAccounts(ctx.config), xsdDir: ctx.config.ISO20022_XSD_DIR });

export const reconciliationResolvers: DomainResolvers = {
  Query: {
    bankDocuments: async (_root, { filter, ...args }, ctx) => {
      requireRole(ctx, READ, 'bankDocuments');
      const page = readPage(args);
      const f = { status: filter?.status, kind: filter?.kind && (filter.kind === 'CAMT_053' ? 'camt.053' : 'camt.054') };
      const rows = await reads.listDocuments(ctx.reads, f, page);
      return { ...toConnection(rows, page, (r) => r.id), count: () => reads.countDocuments(ctx.reads, f) };
    },
    bankStatements: async (_root, { filter, ...args }, ctx) => {
      requireRole(ctx, READ, 'bankStatements');
      const page = readPage(args);
      const f = { account: accountArgument('filter.account', filter?.account), from: dateArgument('filter.from', filter?.from), to: dateArgument('filter.to', filter?.to) };
      const rows = await reads.listStatements(ctx.reads, f, page);
      return { ...toConnection(rows, page, (r) => r.id), count: () => reads.countStatements(ctx.reads, f) };
    },
    statementEntries: async (_root, { filter, ...args }, ctx) => {
      requireRole(ctx, READ, 'statementEntries');
      const page = readPage(args);
      const f = {
        account: accountArgument('filter.account', filter?.account), state: filter?.state, creditDebit: filter?.creditDebit,
        bookedFrom: dateArgument('filter.bookedFrom', filter?.bookedFrom), bookedTo: dateArgument('filter.bookedTo', filter?.bookedTo),
      };
      const rows = await reads.listEntries(ctx.reads, f, page);
      return { ...toConnection(rows, page, (r) => r.id), count: () => reads.countEntries(ctx.reads, f) };
    },
    reconciliationMatches: async (_root, { filter, ...args }, ctx) => {
      requireRole(ctx, READ, 'reconciliationMatches');
      const page = readPage(args);
      const f = { account: accountArgument('filter.account', filter?.account), kind: filter?.kind, rule: filter?.rule };
      const rows = await reads.listMatches(ctx.reads, f, page);
      return { ...toConnection(rows, page, (r) => r.id), count: () => reads.countMatches(ctx.reads, f) };
    },
    reconciliationExceptions: async (_root, { filter, ...args }, ctx) => {
      requireRole(ctx, READ, 'reconciliationExceptions');
      const page = readPage(args);
      const amount = (field: string, fen: number | null | undefined) => {
        if (fen !== null && fen !== undefined) check(field, Number.isSafeInteger(fen) && fen >= 0 ? null : 'must be a whole number of fen, 0 or more');
        return fen ?? null;
      };
      const minAge = filter?.minAgeDays ?? null;
      if (minAge !== null) check('filter.minAgeDays', minAge >= 0 ? null : 'must be 0 or more');
      const f = {
        kind: filter?.kind, status: filter?.status, account: accountArgument('filter.account', filter?.account),
        minAmountFen: amount('filter.minAmountFen', filter?.minAmountFen), maxAmountFen: amount('filter.maxAmountFen', filter?.maxAmountFen), minAgeDays: minAge,
      };
      const rows = await reads.listExceptions(ctx.reads, f, page);
      let totals: Promise<{ count: number; amountFen: number }> | undefined;
      const once = () => (totals ??= reads.exceptionTotals(ctx.reads, f));
      return { ...toConnection(rows, page, (r) => r.id), count: async () => (await once()).count, total: async () => (await once()).amountFen };
    },
    reconciliationReport: (_root, { account, date }, ctx) => {
      requireRole(ctx, READ, 'reconciliationReport');
      return reads.report(ctx.db, accountArgument('account', account)!, dateArgument('date', date)!);
    },
    reconciliationRuns: async (_root, { account, ...args }, ctx) => {
      requireRole(ctx, READ, 'reconciliationRuns');
      const page = readPage(args);
      const accountNo = accountArgument('account', account);
      const rows = await reads.listRuns(ctx.reads, accountNo, page);
      return { ...toConnection(rows, page, (r) => r.id), count: () => reads.countRuns(ctx.reads, accountNo) };
    },
    fourEyesProposals: async (_root, { filter, ...args }, ctx) => {
      requireRole(ctx, READ, 'fourEyesProposals');
      const page = readPage(args);
      const proposals = { status: filter?.status ?? 'PENDING', kind: filter?.kind };
      const rows = await listProposals(ctx.reads, proposals, page);
      const connection = toConnection(rows, page, (r) => r.id);
      return {
        ...connection, edges: await Promise.all(connection.edges.map(async (e) => ({ ...e, node: await proposalView(e.node, ctx) }))),
        count: () => countProposals(ctx.reads, proposals),
      };
    },
  },

  Mutation: {
    uploadBankStatement: async (_root, { input }, ctx) => {
      requireRole(ctx, WRITE, 'uploadBankStatement');
      const fileName = input.fileName.trim();
      const contentField = input.uploadId != null ? 'input.uploadId' : 'input.content';
      checkAll({
        'input.fileName': fileName.length >= 1 && fileName.length <= 255 ? null : 'must be 1 to 255 characters',
        [contentField]: (input.content == null) === (input.uploadId == null) ? 'give exactly one of content and uploadId'
          : input.content != null ? documentProblem(input.content) : null,
        'input.sealBase64': sealProblem(input.sealBase64),
      });
      const upload = input.uploadId == null ? null : await takeUpload(ctx, contentField, input.uploadId, 'BANK_STATEMENT');
      // Uploaded bytes become the very text `content` would have been, then take the same path.
      const xml = upload ? uploadedText(contentField, upload.bytes) : input.content!;
      if (upload) check(contentField, documentProblem(xml));
      const seal = handedInSeal(xml, input.sealBase64 == null ? null : Buffer.from(input.sealBase64, 'base64'), () => configuredBankSeal(ctx.config));
      let documentId: number;
      try {
        const outcome = await receiveDocument(ctx.db, {
          xml, source: 'UPLOAD', fileName, receivedBy: ctx.principal.subject, role: ctx.principal.role, ...seal,
        }, ingestOptions(ctx));
        await enqueueReconciliation(ctx.queues.reconciliation, outcome.accounts);
        documentId = outcome.documentId;
      } catch (error) {
        // Stored, not checkable now (the XSDs cannot be read): it stays RECEIVED and the workers take it up.
        if (!(error instanceof XsdUnavailableError) || error.documentId === null) throw error;
        await enqueueDocument(ctx.queues.reconciliation, error.documentId);
        documentId = error.documentId;
      }
      // Stored (even REJECTED, kept with its problems): the upload is spent; after a refusal it waits for another try.
      await upload?.discard();
      return { document: (await ctx.loaders.bankDocument.load(documentId))! };
    },
    confirmBankDocument: async (_root, { input }, ctx) => {
      requireRole(ctx, WRITE, 'confirmBankDocument');
      const documentId = localId('input.documentId', input.documentId, 'BankDocument');
      try {
        const outcome = await confirmDocument(ctx.db, actorOf(ctx.principal), documentId, input.reason, ingestOptions(ctx));
        await enqueueReconciliation(ctx.queues.reconciliation, outcome.accounts);
      } catch (error) {
        // Confirmed, not checkable now: it stays RECEIVED and the workers take it up.
        if (!(error instanceof XsdUnavailableError)) throw error;
        await enqueueDocument(ctx.queues.reconciliation, documentId);
      }
      ctx.loaders.bankDocument.clear(documentId);
      return { document: (await ctx.loaders.bankDocument.load(documentId))! };
    },
    retryBankDocument: async (_root, { input }, ctx) => {
      requireRole(ctx, WRITE, 'retryBankDocument');
      const documentId = localId('input.documentId', input.documentId, 'BankDocument');
      const existing = await ctx.loaders.bankDocument.load(documentId);
      if (!existing) throw notFound('bank document', 'input.documentId');
      if (existing.status === 'ACCEPTED') throw conflict('input.documentId: is ACCEPTED already: nothing to retry', 'input.documentId');
      const outcome = await processDocument(ctx.db, documentId, ingestOptions(ctx));
      await enqueueReconciliation(ctx.queues.reconciliation, outcome.accounts);
      ctx.loaders.bankDocument.clear(documentId);
      return { document: (await ctx.loaders.bankDocument.load(documentId))! };
    },
    requestReconciliation: async (_root, { input }, ctx) => {
      requireRole(ctx, WRITE, 'requestReconciliation');
      const account = accountArgument('input.account', input.account)!;
      await enqueueReconciliation(ctx.queues.reconciliation, [account]);
      return { account, queued: true };
    },
    matchReconciliationException: async (_root, { input }, ctx) => {
      requireRole(ctx, WRITE, 'matchReconciliationException');
      const id = localId('input.exceptionId', input.exceptionId, 'ReconciliationException');
      const contributions = input.contributions?.map((c, i) => ({ unitId: localId(`input.contributions[${i}].unitId`, c.unitId, 'Unit'), planYear: c.planYear, amountFen: c.amountFen }));
      const reversedContributionPayments = input.reversedContributionPayments?.map((p, i) => localId(`input.reversedContributionPayments[${i}]`, p, 'ContributionPayment'));
      // A match that would cover an enrolment is proposed (resolve.ts): made at once, it covers none, so no claim is due to be
      // decided again (a confirmation queues them).
      await matchException(ctx.db, actorOf(ctx.principal), id, {
        ...(input.endToEndIds ? { endToEndIds: input.endToEndIds.map((e) => e.trim()) } : {}), ...(contributions ? { contributions } : {}),
        ...(reversedContributionPayments ? { reversedContributionPayments } : {}), note: input.note ?? null,
      }, ctx.config.FOUR_EYES_ABOVE_FEN);
      ctx.loaders.reconciliationException.clear(id);
      return { exception: (await ctx.loaders.reconciliationException.load(id))! };
    },
    writeOffReconciliationException: async (_root, { input }, ctx) => {
      requireRole(ctx, WRITE, 'writeOffReconciliationException');
      const id = localId('input.exceptionId', input.exceptionId, 'ReconciliationException');
      await writeOffException(ctx.db, actorOf(ctx.principal), id, input.reason, ctx.config.FOUR_EYES_ABOVE_FEN);
      ctx.loaders.reconciliationException.clear(id);
      return { exception: (await ctx.loaders.reconciliationException.load(id))! };
    },
    confirmFourEyesProposal: async (_root, { input }, ctx) => decided(ctx, 'confirmFourEyesProposal', input, true),
    rejectFourEyesProposal: async (_root, { input }, ctx) => decided(ctx, 'rejectFourEyesProposal', input, false),
  },

  BankDocument: {
    id: (d) => toGlobalId('BankDocument', d.id),
    kind: (d) => (d.kind === null ? null : d.kind === 'camt.053' ? 'CAMT_053' : 'CAMT_054'),
    receiver: (d, _args, ctx) => actorView(ctx, d.receivedBy),
    confirmer: (d, _args, ctx) => (d.confirmedBy === null ? null : actorView(ctx, d.confirmedBy)),
    viewerCanConfirm: (d, _args, ctx) => hasRole(ctx, WRITE) && confirmationRefusal(actorOf(ctx.principal), d) === null,
  },
  BankDocumentConnection: { totalCount: countedTotal },
  ReconciliationRunConnection: { totalCount: countedTotal },
  FourEyesProposalConnection: { totalCount: countedTotal },

  BankStatement: {
    id: (s) => toGlobalId('BankStatement', s.id),
    document: async (s, _args, ctx) => (await ctx.loaders.bankDocument.load(s.documentId))!,
    entries: async (s, args, ctx) => {
      const page = readPage(args);
      const rows = await reads.listEntries(ctx.reads, { statementId: s.id }, page);
      return { ...toConnection(rows, page, (r) => r.id), count: () => reads.countEntries(ctx.reads, { statementId: s.id }) };
    },
    proof: (s, _args, ctx) => ctx.loaders.proofOfStatement.load(s.id),
  },
  BankStatementConnection: { totalCount: countedTotal },

  StatementEntry: {
    id: (e) => toGlobalId('StatementEntry', e.id),
    endToEndIds: (e) => e.entry.details.flatMap((d) => (d.endToEndId === undefined ? [] : [d.endToEndId])),
    remittanceInfo: (e) => e.entry.details.flatMap((d) => d.remittanceInfo),
    counterpartyName: (e) => {
      const d = e.entry.details[0];
      return (e.creditDebit === 'DBIT' || d?.returnInfo ? d?.creditor?.name : d?.debtor?.name) ?? null;
    },
    statement: (e, _args, ctx) => (e.statementId === null ? null : ctx.loaders.bankStatement.load(e.statementId)),
    matches: (e, _args, ctx) => ctx.loaders.matchesOfEntry.load(e.id),
    exceptions: (e, _args, ctx) => ctx.loaders.exceptionsOfEntry.load(e.id),
  },
  StatementEntryConnection: { totalCount: countedTotal },

  ReconciliationMatch: {
    id: (m) => toGlobalId('ReconciliationMatch', m.id),
    entry: async (m, _args, ctx) => (await ctx.loaders.statementEntry.load(m.entryId))!,
    payout: (m, _args, ctx) => (m.payoutId === null ? null : ctx.loaders.payout.load(m.payoutId)),
    unit: (m, _args, ctx) => (m.unitId === null ? null : ctx.loaders.unit.load(m.unitId)),
    contribution: (m) => (m.unitId === null || m.planYear === null ? null : { unitId: m.unitId, planYear: m.planYear }),
    matcher: (m, _args, ctx) => actorView(ctx, m.matchedBy),
  },
  ReconciliationMatchConnection: { totalCount: countedTotal },

  ReconciliationException: {
    id: (x) => toGlobalId('ReconciliationException', x.id),
    entry: (x, _args, ctx) => (x.entryId === null ? null : ctx.loaders.statementEntry.load(x.entryId)),
    payout: (x, _args, ctx) => (x.payoutId === null ? null : ctx.loaders.payout.load(x.payoutId)),
    reason: (x) => String(x.evidence.reason ?? x.kind),
    evidence: (x) => x.evidence,
    resolver: (x, _args, ctx) => (x.resolvedBy === null ? null : actorView(ctx, x.resolvedBy)),
    viewerCanResolve: async (x, _args, ctx) =>
      hasRole(ctx, WRITE) && resolutionRefusal(x) === null && (await ctx.loaders.pendingProposalOfException.load(x.id)) === null,
    ageDays: (x: ReconciliationExceptionRow) => Math.floor((Date.now() - new Date(x.detectedAt).getTime()) / DAY_MS),
    pendingProposal: async (x, _args, ctx) => {
      const p = await ctx.loaders.pendingProposalOfException.load(x.id);
      return p && proposalView(p, ctx);
    },
  },
  ReconciliationExceptionConnection: {
    totalCount: countedTotal,
    totalAmountFen: (c) => c.total?.() ?? c.edges.reduce((sum, e) => sum + e.node.amountFen, 0),
  },

  DailyProof: {
    id: (p) => toGlobalId('DailyProof', p.statementId),
    statement: async (p, _args, ctx) => (await ctx.loaders.bankStatement.load(p.statementId))!,
  },

  ReconciliationRun: {
    id: (r) => toGlobalId('ReconciliationRun', r.id),
    starter: (r, _args, ctx) => actorView(ctx, r.startedBy),
  },
};

async function decided(ctx: Context, operation: string, input: { proposalId: string; reason?: string | null }, confirm: boolean) {
  requireRole(ctx, WRITE, operation);
  const id = localId('input.proposalId', input.proposalId, 'FourEyesProposal');
  const reason = input.reason?.trim() || null;
  await decideProposal(ctx.db, actorOf(ctx.principal), id, confirm, reason);
  // A confirmed manual payment or match may cover enrolments whose claims were refused: decided again now.
  if (confirm) await enqueueDueRedecisions(ctx.db, ctx.queues.claimAdjudication, ctx.loaders.ruleSets);
  for (const loader of [ctx.loaders.fourEyesProposal, ctx.loaders.pendingProposalOfException, ctx.loaders.reconciliationException]) loader.clearAll();
  return { proposal: await proposalView((await ctx.loaders.fourEyesProposal.load(id))!, ctx) };
}

/** Node types of this domain, for `Query.node`; null for roles that may not read reconciliation. */
export const reconciliationNodes = {
  BankDocument: async (ctx: Context, id: number) => (canRead(ctx) ? ctx.loaders.bankDocument.load(id) : null),
  BankStatement: async (ctx: Context, id: number) => (canRead(ctx) ? ctx.loaders.bankStatement.load(id) : null),
  StatementEntry: async (ctx: Context, id: number) => (canRead(ctx) ? ctx.loaders.statementEntry.load(id) : null),
  ReconciliationMatch: async (ctx: Context, id: number) => (canRead(ctx) ? ctx.loaders.reconciliationMatch.load(id) : null),
  ReconciliationException: async (ctx: Context, id: number) => (canRead(ctx) ? ctx.loaders.reconciliationException.load(id) : null),
  ReconciliationRun: async (ctx: Context, id: number) => (canRead(ctx) ? ctx.loaders.reconciliationRun.load(id) : null),
  // A statement's proof, by the statement's id.
  DailyProof: async (ctx: Context, id: number) => (canRead(ctx) ? ctx.loaders.proofOfStatement.load(id) : null),
  FourEyesProposal: async (ctx: Context, id: number) => {
    const p = canRead(ctx) ? await ctx.loaders.fourEyesProposal.load(id) : null;
    return p && proposalView(p, ctx);
  },
};
