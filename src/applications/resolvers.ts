import DataLoader from 'dataloader';
import type { Role } from '../gateway/auth.ts';
import type { DomainResolvers } from '../gateway/payloads.ts';
import { actorOf, actorView, requireRole, scopeOf, type Context } from '../gateway/context.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import { type CountedConnection, countedTotal, readPage, toConnection } from '../gateway/connection.ts';
import type { ApplicationFilter as ApplicationFilterInput, ApplicationStayInput, AttachmentInput } from '../gateway/generated/resolvers.ts';
import { attachmentsFromUploads, discardUploads, visibleAttachments } from '../attachments/resolvers.ts';
import { forbidden, invalid } from '../kernel/errors.ts';
import { chinaToday } from '../kernel/time.ts';
import { promiseOf, turnaroundOf } from '../kernel/workingDays.ts';
import { enqueueApplicationSettlement } from '../settlements/fromApplication.ts';
import { isInpatient } from '../settlements/model.ts';
import { STAFF_CHANNELS, type ApplicationChannel } from './model.ts';
import { acceptApplication, resubmitApplication, returnApplication, submitApplication } from './service.ts';
import * as store from './store.ts';
import type { ApplicationRow } from './store.ts';
import { validateStay } from './validation.ts';

export type ApplicationConnectionResult = CountedConnection<ApplicationRow>;

/** Who reads applications: staff who decide or audit them, and (scoped) a unit's operator and the member. */
const READ = ['ADMIN', 'REVIEWER', 'AUDITOR', 'UNIT_OPERATOR', 'MEMBER'] as const;
/** Who files them: the member, and staff on its behalf (not a REVIEWER: it does not shape what it decides on). */
const SUBMIT = ['MEMBER', 'UNIT_OPERATOR', 'ADMIN'] as const;
export const DECIDE = ['REVIEWER', 'ADMIN'] as const;

/** The member an application is for: a MEMBER only itself; staff name a member (submitApplication checks their scope). */
function applicantOf(ctx: Context, memberId: string | null | undefined, channel: ApplicationChannel | null | undefined) {
  const { principal } = ctx;
  if (principal.role === 'MEMBER') {
    const own = principal.memberId!;
    if (memberId != null && localId('input.memberId', memberId, 'Member') !== own) throw forbidden('a member applies only for themselves');
    if (channel != null && channel !== 'ONLINE') throw invalid('input.channel', 'a member applies ONLINE; MAIL and COUNTER are entered by staff');
    return { memberId: own, channel: 'ONLINE' as const };
  }
  if (memberId == null) throw invalid('input.memberId', 'is required when staff file on a member\'s behalf');
  if (channel == null || !STAFF_CHANNELS.includes(channel)) throw invalid('input.channel', 'staff file an application that came by MAIL or at the COUNTER');
  return { memberId: localId('input.memberId', memberId, 'Member'), channel };
}

const stayOf = (input: ApplicationStayInput) => validateStay('input.stay', { ...input, amounts: input.amounts }, chinaToday());

const documentsOf = (ctx: Context, refs: readonly AttachmentInput[]) => attachmentsFromUploads(ctx, 'input.attachments', refs);

// One loader per request's loaders (a subscription's fresh loaders get fresh ones): a page of applications in one query each.
const paymentLoaders = new WeakMap<object, DataLoader<number, store.ClaimPayment | null>>();
function claimPaymentOf(ctx: Context, settlementId: number) {
  let loader = paymentLoaders.get(ctx.loaders);
  if (!loader) {
    paymentLoaders.set(ctx.loaders, (loader = new DataLoader(async (ids) => {
      const found = await store.claimPaymentsOf(ctx.db, ids);
      return ids.map((id) => found.get(id) ?? null);
    })));
  }
  return loader.load(settlementId);
}

const documentLoaders = new WeakMap<object, DataLoader<number, number[]>>();
function documentIdsOf(ctx: Context, applicationId: number) {
  let loader = documentLoaders.get(ctx.loaders);
  if (!loader) documentLoaders.set(ctx.loaders, (loader = new DataLoader((ids) => store.attachmentIdsOf(ctx.reads, ids))));
  return loader.load(applicationId);
}

async function fetchApplication(ctx: Context, id: number): Promise<ApplicationRow | null> {
  requireRole(ctx, READ, 'application');
  const [row] = await store.applicationsByIds(ctx.reads, [id], scopeOf(ctx.principal));
  return row ?? null;
}

export const applicationNodes = {
  Application: (ctx: Context, id: number) => fetchApplication(ctx, id),
};

async function listOf(ctx: Context, args: { first?: number | null; after?: string | null; last?: number | null; before?: string | null; filter?: ApplicationFilterInput | null }, memberId: number | null) {
  requireRole(ctx, READ, 'applications');
  const page = readPage(args);
  const filter: store.ApplicationFilter = { memberId, status: args.filter?.status, channel: args.filter?.channel };
  const scope = scopeOf(ctx.principal);
  const rows = await store.listApplications(ctx.reads, scope, filter, page);
  return { ...toConnection(rows, page, (a) => a.id), count: () => store.countApplications(ctx.reads, scope, filter) };
}

export const applicationResolvers: DomainResolvers = {
  Query: {
    applications: (_root, args, ctx) => listOf(ctx, args, null),
    application: (_root, { id }, ctx) => fetchApplication(ctx, localId('id', id, 'Application')),
  },
  Member: {
    applications: (member, args, ctx) => listOf(ctx, args, member.id),
  },
  Mutation: {
    submitApplication: async (_root, { input }, ctx) => {
      requireRole(ctx, SUBMIT, 'submitApplication');
      const applicant = applicantOf(ctx, input.memberId, input.channel);
      const stay = stayOf(input.stay);
      const documents = await documentsOf(ctx, input.attachments);
      const application = await submitApplication(ctx.db, ctx.keys, { ...applicant, stay, attachments: documents }, scopeOf(ctx.principal), actorOf(ctx.principal));
      await discardUploads(documents);
      return { application };
    },
    resubmitApplication: async (_root, { input }, ctx) => {
      requireRole(ctx, SUBMIT, 'resubmitApplication');
      const id = localId('input.applicationId', input.applicationId, 'Application');
      const stay = stayOf(input.stay);
      const documents = await documentsOf(ctx, input.attachments);
      const application = await resubmitApplication(ctx.db, ctx.keys, id, scopeOf(ctx.principal), stay, documents, actorOf(ctx.principal));
      await discardUploads(documents);
      return { application };
    },
    acceptApplication: async (_root, { input }, ctx) => {
      requireRole(ctx, DECIDE, 'acceptApplication');
      const id = localId('input.applicationId', input.applicationId, 'Application');
      const { application, newSettlementId } = await acceptApplication(ctx.db, ctx.keys, id, input.round, scopeOf(ctx.principal), actorOf(ctx.principal));
      // After the commit; were this lost, the settlements sweeper re-adds every RECEIVED settlement.
      if (newSettlementId !== null) await enqueueApplicationSettlement(ctx.queues.settlementMatch, newSettlementId);
      return { application };
    },
    returnApplication: async (_root, { input }, ctx) => {
      requireRole(ctx, DECIDE, 'returnApplication');
      const id = localId('input.applicationId', input.applicationId, 'Application');
      return { application: await returnApplication(ctx.db, id, input.round, scopeOf(ctx.principal), input.reason, input.note, actorOf(ctx.principal)) };
    },
  },
  ApplicationConnection: {
    totalCount: countedTotal,
  },
  Application: {
    id: (row) => toGlobalId('Application', row.id),
    member: async (row, _args, ctx) => (await ctx.loaders.member.load(row.memberId))!,
    medicalType: (row) => row.medType,
    inpatient: (row) => isInpatient(row.medType),
    attachments: async (row, _args, ctx) => visibleAttachments(ctx, await documentIdsOf(ctx, row.id)),
    submittedBy: (row, _args, ctx) => actorView(ctx, row.submittedBy, row.submittedRole as Role),
    decidedBy: (row, _args, ctx) => (row.decidedBy === null ? null : actorView(ctx, row.decidedBy)),
    settlement: (row, _args, ctx) => (row.settlementId === null ? null : ctx.loaders.settlement.load(row.settlementId)),
    turnaround: async (row, _args, ctx) => {
      const claim = row.settlementId === null ? null : await claimPaymentOf(ctx, row.settlementId);
      // Received at the first submission; decided at the last accept or return; paid when the claim's payout was.
      return turnaroundOf({
        receivedAt: row.firstSubmittedAt,
        decidedAt: row.decidedAt,
        paidAt: claim?.paidAt ?? null,
        // Nothing to pay once its claim says so; before the claim, payment is still expected.
        paymentExpected: claim ? claim.paymentExpected || claim.paidAt !== null : true,
      }, promiseOf(ctx.config), new Date());
    },
  },
};
