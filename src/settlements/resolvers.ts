import type { SettlementAmountsResolvers } from '../gateway/generated/resolvers.ts';
import type { DomainResolvers } from '../gateway/payloads.ts';
import { actorOf, actorView, hasRole, isHubStaff, requireHubRole, scopeOf, type Context } from '../gateway/context.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import { type CountedConnection, countedTotal, readPage, toConnection } from '../gateway/connection.ts';
import { takeUpload, uploadedText } from '../gateway/files.ts';
import { importUpload } from './ingest.ts';
import { AMOUNT_FIELDS, isInpatient, type Amounts, type IngestionRunRow, type RejectionRow, type SettlementRow } from './model.ts';
import { correctionProblem, formatOf, type FileFormat } from './records.ts';
import { retryRejection } from './retry.ts';
import * as store from './store.ts';
import { UNSCOPED } from '../kernel/scope.ts';
import { checkAll, conflict, notFound } from '../kernel/errors.ts';
import { enqueueSettlementMatches } from './queue.ts';

/** What `retrySettlementRejection` answers: the rejection as it now stands and, when valid, its settlement. */
export interface RetryResult {
  rejection: RejectionRow;
  settlement: SettlementRow | null;
}

export type SettlementConnectionResult = CountedConnection<SettlementRow>;
export type RejectionConnectionResult = CountedConnection<RejectionRow>;
export type IngestionRunConnectionResult = CountedConnection<IngestionRunRow>;

/** Sources, runs and rejections are operations data. */
const OPERATIONS = ['ADMIN', 'AUDITOR', 'SERVICE'] as const;
export const INGEST = ['ADMIN', 'SERVICE'] as const;

const SOURCE_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

// What `requireHubRole(ctx, OPERATIONS, …)` lets through: an organisation's staff look up the hub's ingestion as missing (null).
const canOperate = (ctx: Context) => hasRole(ctx, OPERATIONS) && isHubStaff(ctx.principal);

// Each amount under its English name, read from the row's platform field.
const amountResolvers = Object.fromEntries(
  AMOUNT_FIELDS.map((f) => [f.name, (amounts: Amounts) => amounts[f.field]]),
) as SettlementAmountsResolvers<Context, Amounts>;

export const settlementResolvers: DomainResolvers = {
  Query: {
    settlements: async (_root, { filter, ...args }, ctx) => {
      const page = readPage(args);
      const settlementFilter: store.SettlementFilter = {
        memberId: filter?.memberId ? localId('filter.memberId', filter.memberId, 'Member') : null,
        unitId: filter?.unitId ? localId('filter.unitId', filter.unitId, 'Unit') : null,
        settledFrom: filter?.settledFrom, settledTo: filter?.settledTo, status: filter?.status, source: filter?.source, kind: filter?.kind,
      };
      const scope = scopeOf(ctx.principal);
      const rows = await store.listSettlements(ctx.reads, scope, settlementFilter, page);
      for (const row of rows) ctx.loaders.settlement.prime(row.id, row);
      return { ...toConnection(rows, page, (s) => s.id), count: () => store.countSettlements(ctx.reads, scope, settlementFilter) };
    },
    // Lookups answer null for what is missing or out of scope, as `node` does: one absent object never blanks the page.
    settlement: (_root, { id }, ctx) => ctx.loaders.settlement.load(localId('id', id, 'Settlement')),
    settlementSources: (_root, _args, ctx) => {
      requireHubRole(ctx, OPERATIONS, 'settlementSources');
      return store.listSources(ctx.reads);
    },
    settlementIngestionRuns: async (_root, { source, ...args }, ctx) => {
      requireHubRole(ctx, OPERATIONS, 'settlementIngestionRuns');
      const page = readPage(args);
      const rows = await store.listRuns(ctx.reads, source ?? null, page);
      return { ...toConnection(rows, page, (r) => r.id), count: () => store.countRuns(ctx.reads, source ?? null) };
    },
    settlementIngestionRun: async (_root, { id }, ctx) => {
      requireHubRole(ctx, OPERATIONS, 'settlementIngestionRun');
      return ctx.loaders.ingestionRun.load(localId('id', id, 'SettlementIngestionRun'));
    },
    settlementRejections: async (_root, { filter, ...args }, ctx) => {
      requireHubRole(ctx, OPERATIONS, 'settlementRejections');
      const page = readPage(args);
      const rejectionFilter = { source: filter?.source, status: filter?.status };
      const rows = await store.listRejections(ctx.reads, rejectionFilter, page);
      return { ...toConnection(rows, page, (r) => r.id), count: () => store.countRejections(ctx.reads, rejectionFilter) };
    },
    settlementRejection: async (_root, { id }, ctx) => {
      requireHubRole(ctx, OPERATIONS, 'settlementRejection');
      return ctx.loaders.rejection.load(localId('id', id, 'SettlementRejection'));
    },
  },

  Mutation: {
    retrySettlementRejection: async (_root, { input }, ctx) => {
      requireHubRole(ctx, INGEST, 'retrySettlementRejection');
      const id = localId('input.rejectionId', input.rejectionId, 'SettlementRejection');
      const corrections = input.corrections.map((c) => ({ name: c.name.trim(), value: c.value ?? null }));
      checkAll(Object.fromEntries(corrections.map((c, i) => [`input.corrections[${i}].name`, correctionProblem(c)])));
      const result = await retryRejection(ctx.db, ctx.keys, id, corrections, actorOf(ctx.principal));
      if (!result) {
        const existing = await ctx.loaders.rejection.load(id);
        throw existing
          ? conflict(`input.rejectionId: is ${existing.status}, not OPEN: nothing to retry`, 'input.rejectionId')
          : notFound('settlement rejection', 'input.rejectionId');
      }
      await enqueueSettlementMatches(ctx.queues.settlementMatch, result.toMatch);
      ctx.loaders.rejection.clear(id);
      const rejection = (await ctx.loaders.rejection.load(id))!;
      const settlement = result.settlementId === null ? null : await store.settlementsByIds(ctx.reads, [result.settlementId], UNSCOPED);
      return { rejection, settlement: settlement?.[0] ?? null };
    },
    uploadSettlements: async (_root, { input }, ctx) => {
      requireHubRole(ctx, INGEST, 'uploadSettlements');
      const fileName = input.fileName.trim();
      const format: FileFormat | null = input.format ? (input.format.toLowerCase() as FileFormat) : formatOf(fileName);
      const sourceName = (input.source ?? 'upload').trim();
      const contentField = input.uploadId != null ? 'input.uploadId' : 'input.content';
      checkAll({
        'input.fileName': fileName.length >= 1 && fileName.length <= 255 ? null : 'must be 1 to 255 characters',
        [contentField]: (input.content == null) !== (input.uploadId == null) ? null : 'give exactly one of content and uploadId',
        'input.format': format ? null : 'is required when the file name does not end in .jsonl, .json or .csv',
        'input.source': SOURCE_NAME.test(sourceName) ? null : 'must be lower-case letters, digits and dashes (1 to 40)',
      });
      const upload = input.uploadId == null ? null : await takeUpload(ctx, contentField, input.uploadId, 'SETTLEMENTS');
      const content = upload ? uploadedText(contentField, upload.bytes) : input.content!;
      const runId = await importUpload(ctx.db, ctx.keys, ctx.queues.settlementMatch, { source: sourceName, fileName, content, contentField, format: format! }, actorOf(ctx.principal));
      // Only a stored file spends the upload: after a refusal it waits for another try.
      await upload?.discard();
      return { run: (await ctx.loaders.ingestionRun.load(runId))! };
    },
  },

  Member: {
    settlements: async (member, { filter, ...args }, ctx) => {
      const page = readPage(args);
      const settlementFilter = { settledFrom: filter?.settledFrom, settledTo: filter?.settledTo, status: filter?.status, kind: filter?.kind };
      const rows = await ctx.loaders.settlementsOfMember.load({ parentId: member.id, args: { filter: settlementFilter, page } });
      return {
        ...toConnection(rows, page, (s) => s.id),
        count: () => store.countSettlements(ctx.reads, scopeOf(ctx.principal), { ...settlementFilter, memberId: member.id }),
      };
    },
  },

  Settlement: {
    id: (s) => toGlobalId('Settlement', s.id),
    transaction: (s) => s.infno,
    reverses: (s, _args, ctx) => (s.reversesId === null ? null : ctx.loaders.settlement.load(s.reversesId)),
    reversedBy: async (s, _args, ctx) => (await ctx.loaders.reversalsOf.load(s.id))[0] ?? null,
    visitId: (s) => s.mdtrtId,
    insuredPersonNo: (s) => s.psnNo,
    personNameMasked: (s) => s.psnNameMasked,
    idNumberMasked: (s) => s.certnoMasked,
    insuranceType: (s) => s.insutype,
    medicalType: (s) => s.medType,
    inpatient: (s) => isInpatient(s.medType),
    settledAt: (s) => s.setlTime,
    member: (s, _args, ctx) => (s.memberId === null ? null : ctx.loaders.member.load(s.memberId)),
    enrolment: (s, _args, ctx) => (s.enrolmentId === null ? null : ctx.loaders.enrolment.load(s.enrolmentId)),
    unit: (s, _args, ctx) => (s.unitId === null ? null : ctx.loaders.unit.load(s.unitId)),
    duplicateOf: (s, _args, ctx) => (s.duplicateOfId === null ? null : ctx.loaders.settlement.load(s.duplicateOfId)),
    settlementSource: (s, _args, ctx) => settlementKeyedNodes.SettlementSource(ctx, s.source),
  },

  SettlementAmounts: amountResolvers,

  SettlementConnection: {
    totalCount: countedTotal,
  },

  SettlementSource: {
    id: (source) => toGlobalId('SettlementSource', source.name),
    counts: (source, _args, ctx) => ctx.loaders.sourceCounts.load(source.name),
    runs: async (source, args, ctx) => {
      const page = readPage(args);
      const rows = await store.listRuns(ctx.reads, source.name, page);
      return { ...toConnection(rows, page, (r) => r.id), count: () => store.countRuns(ctx.reads, source.name) };
    },
  },

  SettlementIngestionRun: {
    id: (run) => toGlobalId('SettlementIngestionRun', run.id),
    newSettlements: (run) => run.inserted,
    settlementSource: async (run, _args, ctx) => (await ctx.loaders.source.load(run.source))!,
    unmatched: (run, _args, ctx) => ctx.loaders.runUnmatched.load(run.id),
    starter: (run, _args, ctx) => actorView(ctx, run.startedBy),
  },
  SettlementIngestionRunConnection: {
    totalCount: countedTotal,
  },

  SettlementRejection: {
    id: (r) => toGlobalId('SettlementRejection', r.id),
    fields: (r) => Object.entries(r.rawMasked).map(([name, value]) => ({
      name, value: value === null || value === undefined ? null : typeof value === 'string' ? value : JSON.stringify(value),
    })),
    settlement: (r, _args, ctx) => (r.settlementId === null ? null : ctx.loaders.settlement.load(r.settlementId)),
    settlementSource: async (r, _args, ctx) => (await ctx.loaders.source.load(r.source))!,
    resolver: (r, _args, ctx) => (r.resolvedBy === null ? null : actorView(ctx, r.resolvedBy)),
  },
  SettlementRejectionConnection: {
    totalCount: countedTotal,
  },
};

/** Node types of this domain, for `Query.node`; operations data only for the roles that may see it. */
export const settlementNodes = {
  Settlement: (ctx: Context, id: number) => ctx.loaders.settlement.load(id),
  SettlementRejection: async (ctx: Context, id: number) => (canOperate(ctx) ? ctx.loaders.rejection.load(id) : null),
  SettlementIngestionRun: async (ctx: Context, id: number) => (canOperate(ctx) ? ctx.loaders.ingestionRun.load(id) : null),
};

/** Node types of this domain known by a text key: sources by name, operations data like `settlementSources`. */
export const settlementKeyedNodes = {
  SettlementSource: async (ctx: Context, name: string) => (canOperate(ctx) ? ctx.loaders.source.load(name) : null),
};
