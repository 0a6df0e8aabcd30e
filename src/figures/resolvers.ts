import { recordAudit } from '../audit/audit.ts';
import type { Context } from '../gateway/context.ts';
import { actorOf, requireRole, scopeOf } from '../gateway/context.ts';
import { yearlyReportDownloadUrl } from '../gateway/files.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import type { DomainResolvers } from '../gateway/payloads.ts';
import { reportObjectId } from './download.ts';
import { CALENDAR_READERS, FIGURES_READERS, TARGET_SETTERS } from './model.ts';
import { reportFileName } from './report.ts';
import { breakdown, enrolmentTargets, figures, figuresQuery, openExceptions, reconciliationCalendar, setEnrolmentTarget, turnaround } from './service.ts';
import { figuresLoaders } from './loaders.ts';
import { paymentWaiting, type WaitingRow } from './waiting.ts';
import type { BenefitProgramme } from '../gateway/generated/resolvers.ts';

const organisationIdOf = (field: string, id: string | null | undefined) => (id == null ? null : localId(field, id, 'Organisation'));
const programmeRow = (r: WaitingRow) => ({ programme: r.key as BenefitProgramme, claims: r.claims, stages: r.stages });

export const figuresResolvers: DomainResolvers = {
  Query: {
    figures: async (_root, { filter }, ctx) => {
      requireRole(ctx, FIGURES_READERS, 'figures');
      const scope = scopeOf(ctx.principal);
      const q = await figuresQuery(ctx.db, scope, {
        organisationId: organisationIdOf('filter.organisationId', filter.organisationId),
        planYear: filter.planYear, month: filter.month, programme: filter.programme, memberCategory: filter.memberCategory,
      });
      return figures(ctx.db, scope, q);
    },
    enrolmentTargets: (_root, { planYear }, ctx) => {
      requireRole(ctx, FIGURES_READERS, 'enrolmentTargets');
      return enrolmentTargets(ctx.db, scopeOf(ctx.principal), planYear);
    },
    reconciliationCalendar: (_root, { filter }, ctx) => {
      requireRole(ctx, CALENDAR_READERS, 'reconciliationCalendar');
      return reconciliationCalendar(ctx.db, scopeOf(ctx.principal), filter, ctx.config.PAYOUT_ACCOUNT);
    },
    paymentWaiting: async (_root, { filter }, ctx) => {
      requireRole(ctx, FIGURES_READERS, 'paymentWaiting');
      const w = await paymentWaiting(ctx.db, scopeOf(ctx.principal), {
        from: filter.from, to: filter.to, programme: filter.programme, approvedByRulesOnly: filter.approvedByRulesOnly,
        organisationId: organisationIdOf('filter.organisationId', filter.organisationId),
      });
      return {
        from: w.from, to: w.to, programme: w.programme as BenefitProgramme | null, approvedByRulesOnly: w.approvedByRulesOnly,
        organisationId: w.organisation ? toGlobalId('Organisation', w.organisation.id) : null,
        claims: w.overall.claims, overall: w.overall.stages,
        days: w.days.map((d) => ({ date: d.key, claims: d.claims, stages: d.stages })),
        programmes: w.programmes.map(programmeRow),
      };
    },
  },
  Mutation: {
    setEnrolmentTarget: async (_root, { input }, ctx: Context) => {
      requireRole(ctx, TARGET_SETTERS, 'setEnrolmentTarget');
      const target = await setEnrolmentTarget(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), {
        organisationId: localId('input.organisationId', input.organisationId, 'Organisation'),
        planYear: input.planYear, membersTarget: input.membersTarget, unitsTarget: input.unitsTarget, contributionsTargetFen: input.contributionsTargetFen,
      });
      return { target };
    },
    requestYearlyReport: async (_root, { input }, ctx: Context) => {
      requireRole(ctx, FIGURES_READERS, 'requestYearlyReport');
      const q = await figuresQuery(ctx.db, scopeOf(ctx.principal), {
        organisationId: organisationIdOf('input.organisationId', input.organisationId), planYear: input.planYear,
      }, 'input');
      const objectId = reportObjectId(q.organisation?.id ?? null, q.planYear, input.format);
      const { url, expiresAt } = yearlyReportDownloadUrl(ctx, objectId);
      await recordAudit(ctx.db, actorOf(ctx.principal), {
        action: 'figures.report.request', targetType: 'YearlyReport', targetId: objectId,
        details: { organisationCode: q.organisation?.code ?? null, planYear: q.planYear, format: input.format },
      });
      return { url, expiresAt, fileName: reportFileName(q.organisation?.code ?? null, q.planYear, input.format) };
    },
  },
  FiguresReport: {
    organisationId: (r) => (r.query.organisation ? toGlobalId('Organisation', r.query.organisation.id) : null),
    organisationCode: (r) => r.query.organisation?.code ?? 'HUB',
    organisationName: (r) => r.query.organisation?.name ?? '全部',
    planYear: (r) => r.query.planYear,
    month: (r) => r.query.month,
    totals: (r) => r.totals,
    breakdown: (r, { by }, ctx) => breakdown(ctx.db, r, by),
    turnaround: (r, _args, ctx) => turnaround(ctx.db, r, ctx.config.PROMISE_HOLIDAYS),
    openExceptions: (r, _args, ctx) => openExceptions(ctx.db, r, ctx.config.PAYOUT_ACCOUNT),
  },
  Claim: {
    timeline: (claim, _args, ctx) => figuresLoaders(ctx).claimTimeline.load(claim.id),
  },
  EnrolmentTarget: {
    organisationId: (t) => toGlobalId('Organisation', t.organisationId),
  },
};
