import type { ClaimReasonCode } from '../gateway/generated/resolvers.ts';
import { actorOf, actorView, hasRole, requireRole, scopeOf, type Context } from '../gateway/context.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import { type CountedConnection, countedTotal, readPage, toConnection } from '../gateway/connection.ts';
import { previewBenefits, printedPreview } from './preview.ts';
import { localizedText } from './rules/explain.ts';
import type { BenefitResult } from './rules/engine.ts';
import * as proposals from './ruleSetProposals.ts';
import { proposalsByIds, countProposals, listProposals, PROPOSAL_ORDER } from './store/ruleSetProposals.ts';
import { PROGRAMMES } from './rules/ruleSet.ts';
import * as review from './review.ts';
import { REDECIDERS, redecideInScope } from './redecide.ts';
import { contributionCovered } from '../members/model.ts';
import { userErrorsOf, type DomainResolvers } from '../gateway/payloads.ts';
import { MAX_IDS } from '../gateway/limits.ts';
import * as store from './store.ts';
import * as turnaround from './turnaround.ts';
import { BREACH_ORDER } from './store/turnaround.ts';
import { payableFen, type ClaimRow, type RuleSetProposalRow } from './model.ts';
import { check, invalid, notFound, reasonOf } from '../kernel/errors.ts';
import { isObject } from '../kernel/text.ts';

export type ClaimConnectionResult = CountedConnection<ClaimRow>;
export type RuleSetProposalConnectionResult = CountedConnection<RuleSetProposalRow>;

const ORGANISATION = 'Organisation';

function proposalInput(ctx: Context, definition: unknown, note: string | null | undefined) {
  if (!isObject(definition)) throw invalid('input.definition', 'must be a JSON object');
  return proposals.proposeRuleSet(ctx.db, ctx.loaders.ruleSets, actorOf(ctx.principal), scopeOf(ctx.principal), { definition, note });
}

const REVIEW = review.REVIEWERS;

function checkYear(field: string, year: number): void {
  check(field, year >= 2000 && year <= 2100 ? null : 'must be a year between 2000 and 2100');
}

async function visibleClaim(ctx: Context, id: number) {
  const claim = await ctx.loaders.claim.load(id);
  if (!claim) throw notFound('claim');
  return claim;
}

/** Tells subscribers a reviewer decided `claim` (after the commit; best effort: the row is the truth). */
async function announced(ctx: Context, claim: ClaimRow): Promise<ClaimRow> {
  await ctx.publishStatusChanges([{ kind: 'CLAIM', id: claim.id, memberId: claim.memberId, unitId: claim.unitId, status: claim.status, at: new Date().toISOString() }])
    .catch(() => undefined);
  return claim;
}

/** The preview the CLI prints, from the same service (preview.ts) and a stored rule set. */
async function preview(ctx: Context, ruleSetId: string, version: number | null | undefined, input: unknown): Promise<BenefitResult> {
  const { ruleSets } = ctx.loaders;
  await ruleSets.ensureShipped(ctx.db);
  const row = await store.storedRuleSet(ctx.db, ruleSetId, version);
  if (!row) throw invalid(version == null ? 'ruleSetId' : 'version', `no rule set ${ruleSetId}${version == null ? '' : ` version ${version}`}`);
  return previewBenefits(ruleSets.ruleSetOf(row), input, 'input');
}

export const benefitResolvers: DomainResolvers = {
  Query: {
    claims: async (_root, { filter, ...args }, ctx) => {
      const page = readPage(args, store.CLAIM_ORDER);
      if (filter?.minTotalFen != null && filter.maxTotalFen != null && filter.minTotalFen > filter.maxTotalFen) {
        throw invalid('filter.maxTotalFen', 'must not be below minTotalFen');
      }
      const claimFilter: store.ClaimFilter = {
        status: filter?.status,
        memberId: filter?.memberId ? localId('filter.memberId', filter.memberId, 'Member') : null,
        unitId: filter?.unitId ? localId('filter.unitId', filter.unitId, 'Unit') : null,
        programme: filter?.programme, minTotalFen: filter?.minTotalFen, maxTotalFen: filter?.maxTotalFen,
        settledFrom: filter?.settledFrom, settledTo: filter?.settledTo, planYear: filter?.planYear,
      };
      const scope = scopeOf(ctx.principal);
      const rows = await store.listClaims(ctx.reads, scope, claimFilter, page);
      for (const row of rows) ctx.loaders.claim.prime(row.id, row);
      return { ...toConnection(rows, page, (c) => c.id), count: () => store.countClaims(ctx.reads, scope, claimFilter) };
    },
    // Lookups answer null for what is missing or out of scope, as `node` does: one absent object never blanks the page.
    claim: (_root, { id }, ctx) => ctx.loaders.claim.load(localId('id', id, 'Claim')),
    ruleSets: async (_root, { ruleSetId }, ctx) => {
      await ctx.loaders.ruleSets.ensureShipped(ctx.db);
      return store.listStoredRuleSets(ctx.reads, ruleSetId);
    },
    ruleSet: async (_root, { ruleSetId, version }, ctx) => {
      await ctx.loaders.ruleSets.ensureShipped(ctx.db);
      return store.storedRuleSet(ctx.db, ruleSetId, version);
    },
    benefitPreview: (_root, { ruleSetId, version, input }, ctx) => preview(ctx, ruleSetId, version, input),
    ruleSetProposals: async (_root, { status, ...args }, ctx) => {
      requireRole(ctx, proposals.RULE_SET_APPROVERS, 'ruleSetProposals');
      const page = readPage(args, PROPOSAL_ORDER);
      const scope = scopeOf(ctx.principal);
      const rows = await listProposals(ctx.reads, scope, status ?? null, page);
      return { ...toConnection(rows, page, (r) => r.id), count: () => countProposals(ctx.reads, scope, status ?? null) };
    },
    claimTurnaroundBreaches: async (_root, { kinds, ...args }, ctx) => {
      requireRole(ctx, turnaround.READ_BREACHES, 'claimTurnaroundBreaches');
      const page = readPage(args, BREACH_ORDER);
      const { rows, count } = await turnaround.claimBreaches(ctx.db, scopeOf(ctx.principal), kinds, turnaround.promiseOf(ctx.config), page);
      for (const row of rows) ctx.loaders.claim.prime(row.id, row);
      return { ...toConnection(rows, page, (c) => c.id), count };
    },
  },

  Mutation: {
    // Kept for old clients: it proposes, as proposeRuleSet does; nothing is published by one person.
    publishRuleSet: async (_root, { input }, ctx) => {
      requireRole(ctx, proposals.RULE_SET_PROPOSERS, 'publishRuleSet');
      return { ruleSet: null, proposal: await proposalInput(ctx, input.definition, null) };
    },
    proposeRuleSet: async (_root, { input }, ctx) => {
      requireRole(ctx, proposals.RULE_SET_PROPOSERS, 'proposeRuleSet');
      return { proposal: await proposalInput(ctx, input.definition, input.note) };
    },
    proposeRuleSetAssignment: async (_root, { input }, ctx) => {
      requireRole(ctx, proposals.RULE_SET_PROPOSERS, 'proposeRuleSetAssignment');
      const proposal = await proposals.proposeRuleSetAssignment(ctx.db, ctx.loaders.ruleSets, actorOf(ctx.principal), scopeOf(ctx.principal), {
        organisationId: localId('input.organisationId', input.organisationId, ORGANISATION), planYear: input.planYear,
        ruleSetId: input.ruleSetId, version: input.version, effectiveFrom: input.effectiveFrom, note: input.note,
      });
      return { proposal };
    },
    approveRuleSetProposal: async (_root, { input }, ctx) => {
      requireRole(ctx, proposals.RULE_SET_APPROVERS, 'approveRuleSetProposal');
      const proposalId = localId('input.proposalId', input.proposalId, 'RuleSetProposal');
      const proposal = await proposals.approveRuleSetProposal(ctx.db, ctx.loaders.ruleSets, actorOf(ctx.principal), scopeOf(ctx.principal), { proposalId, note: input.note });
      return { proposal };
    },
    rejectRuleSetProposal: async (_root, { input }, ctx) => {
      requireRole(ctx, proposals.RULE_SET_APPROVERS, 'rejectRuleSetProposal');
      const proposalId = localId('input.proposalId', input.proposalId, 'RuleSetProposal');
      return { proposal: await proposals.rejectRuleSetProposal(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), { proposalId, reason: input.reason }) };
    },
    approveClaim: async (_root, { input }, ctx) => {
      requireRole(ctx, REVIEW, 'approveClaim');
      const id = localId('input.claimId', input.claimId, 'Claim');
      await review.approveClaim(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), id, input.checkedTotalFen, input.note);
      return { claim: await announced(ctx, await visibleClaim(ctx, id)) };
    },
    approveClaims: async (_root, { input }, ctx) => {
      requireRole(ctx, REVIEW, 'approveClaims');
      check('input.claimIds', input.claimIds.length >= 1 && input.claimIds.length <= MAX_IDS ? null : `must list 1 to ${MAX_IDS} claims`);
      check('input.checkedTotalsFen', input.checkedTotalsFen.length === input.claimIds.length
        ? null : `must give one total for each claim of input.claimIds, in its order: ${input.claimIds.length}, not ${input.checkedTotalsFen.length}`);
      const claims = input.claimIds.map((claimId, i) => ({
        id: localId(`input.claimIds[${i}]`, claimId, 'Claim'), field: `input.claimIds[${i}]`,
        checkedTotalFen: input.checkedTotalsFen[i]!, totalField: `input.checkedTotalsFen[${i}]`,
      }));
      const refusals = await review.approveClaims(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), claims, input.note);
      const results = await Promise.all(claims.map(async ({ id }, i) => {
        const refusal = refusals[i];
        if (!refusal) return { claimId: input.claimIds[i]!, claim: await announced(ctx, await visibleClaim(ctx, id)), userErrors: [] };
        // A refusal no payload may carry (none is expected once the role passed) fails the whole operation.
        const userErrors = userErrorsOf(refusal);
        if (!userErrors) throw refusal;
        return { claimId: input.claimIds[i]!, claim: null, userErrors };
      }));
      return { results };
    },
    rejectClaim: async (_root, { input }, ctx) => {
      requireRole(ctx, REVIEW, 'rejectClaim');
      const id = localId('input.claimId', input.claimId, 'Claim');
      await review.rejectClaim(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), id, reasonOf('input.reason', input.reason));
      return { claim: await announced(ctx, await visibleClaim(ctx, id)) };
    },
    adjustClaimLine: async (_root, { input }, ctx) => {
      requireRole(ctx, REVIEW, 'adjustClaimLine');
      const lineId = localId('input.lineId', input.lineId, 'BenefitLine');
      const reason = reasonOf('input.reason', input.reason);
      const claimId = await review.adjustClaimLine(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), lineId, input.amountFen, reason);
      return { claim: await visibleClaim(ctx, claimId) };
    },
    redecideClaim: async (_root, { input }, ctx) => {
      requireRole(ctx, REDECIDERS, 'redecideClaim');
      const id = localId('input.claimId', input.claimId, 'Claim');
      const outcome = await redecideInScope(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), id, ctx.loaders.ruleSets);
      const changed = outcome.after !== outcome.before;
      const claim = await visibleClaim(ctx, id);
      return { claim: changed ? await announced(ctx, claim) : claim, changed };
    },
  },

  Claim: {
    id: (claim) => toGlobalId('Claim', claim.id),
    turnaround: (claim, _args, ctx) => turnaround.claimTurnaround(ctx.db, ctx.loaders, claim.id, turnaround.promiseOf(ctx.config)),
    stage: (claim, _args, ctx) => turnaround.claimStage(ctx.db, ctx.loaders, claim.id),
    settlement: async (claim, _args, ctx) => {
      const settlement = await ctx.loaders.settlement.load(claim.settlementId);
      if (!settlement) throw notFound('settlement');
      return settlement;
    },
    member: async (claim, _args, ctx) => {
      const member = await ctx.loaders.member.load(claim.memberId);
      if (!member) throw notFound('member');
      return member;
    },
    unit: async (claim, _args, ctx) => (await ctx.loaders.unit.load(claim.unitId))!,
    settledAt: (claim) => claim.setlTime,
    ruleSet: (claim, _args, ctx) => (claim.ruleSetId === null || claim.ruleSetVersion === null ? null : ctx.loaders.ruleSetVersion.load({ id: claim.ruleSetId, version: claim.ruleSetVersion })),
    personBurdenFen: (claim) => claim.psnPartAmt,
    memberPaysFen: (claim) => claim.psnPartAmt - claim.totalFen,
    lines: (claim, _args, ctx) => ctx.loaders.linesOfClaim.load(claim.id),
    // Stored as one `zh / en` text per reason, beside its code.
    reasons: (claim) => claim.reasons.map((text, i) => ({ code: claim.reasonCodes[i] as ClaimReasonCode, text: localizedText(text) })),
    reasonCodes: (claim) => claim.reasonCodes as ClaimReasonCode[],
    decider: (claim, _args, ctx) => (claim.decidedBy === null ? null : actorView(ctx, claim.decidedBy)),
    viewerCanApprove: async (claim, _args, ctx) => {
      const actor = actorOf(ctx.principal);
      if (review.reviewRefusal(actor, claim, 'approve')) return false;
      // The groups' setters and the applicants are read (one statement for a page) only for a claim nothing else refuses the caller.
      const bars = await ctx.loaders.approvalBarsOfClaim.load(claim.id);
      return review.reviewRefusal(actor, { ...claim, ...bars }, 'approve') === null;
    },
    viewerCanReject: (claim, _args, ctx) => review.reviewRefusal(actorOf(ctx.principal), claim, 'reject') === null,
    viewerCanAdjust: (claim, _args, ctx) => review.reviewRefusal(actorOf(ctx.principal), claim, 'adjust') === null,
    redecisions: (claim, _args, ctx) => ctx.loaders.redecisionsOfClaim.load(claim.id),
  },

  ClaimRedecision: {
    previousReasonCodes: (r) => r.previousReasonCodes as ClaimReasonCode[],
    newReasonCodes: (r) => r.newReasonCodes as ClaimReasonCode[],
    ruleSet: (r, _args, ctx) => ctx.loaders.ruleSetVersion.load({ id: r.ruleSetId, version: r.ruleSetVersion }),
    decider: (r, _args, ctx) => actorView(ctx, r.decidedBy),
  },

  Enrolment: {
    // Under the coverage rule of the rule set governing the enrolment, as for its claims (src/members/model.ts `contributionCovered`).
    contributionCovered: async (enrolment, _args, ctx) => {
      const [figures, ruleSet] = await Promise.all([
        ctx.loaders.enrolmentCoverage.load(enrolment.id),
        ctx.loaders.ruleSetOfEnrolment.load({ unitId: enrolment.unitId, planYear: enrolment.planYear, on: enrolment.enrolledOn }),
      ]);
      return figures !== null && contributionCovered(ruleSet.eligibility.coverage, figures);
    },
  },

  ClaimConnection: {
    totalCount: countedTotal,
  },

  BenefitLine: {
    id: (line) => toGlobalId('BenefitLine', line.id),
    funderCode: (line) => line.funder,
    ratioBasisPoints: (line) => line.ratioBp,
    computedFen: (line) => line.amountFen,
    amountFen: (line) => payableFen(line),
    explanation: (line) => localizedText(line.explanation),
    adjuster: (line, _args, ctx) => (line.adjustedBy === null ? null : actorView(ctx, line.adjustedBy)),
  },

  RuleSet: {
    id: (row) => toGlobalId('RuleSet', ruleSetKey(row.ruleSetId, row.version)),
    description: (row) => String((row.definition as { description?: string }).description ?? ''),
    definition: (row) => row.definition,
    publisher: (row, _args, ctx) => actorView(ctx, row.publishedBy),
    assignedPlanYears: async (row, _args, ctx) => (await store.assignedYears(ctx.db, [row.ruleSetId])).get(row.ruleSetId) ?? [],
  },

  RuleSetProposal: {
    id: (row) => toGlobalId('RuleSetProposal', row.id),
    ruleSet: (row, _args, ctx) => (row.ruleSetVersion === null ? null : ctx.loaders.ruleSetVersion.load({ id: row.ruleSetId, version: row.ruleSetVersion })),
    organisationId: (row) => (row.organisationId === null ? null : toGlobalId(ORGANISATION, row.organisationId)),
    proposer: (row, _args, ctx) => actorView(ctx, row.proposedBy, 'ADMIN'),
    decider: (row, _args, ctx) => (row.decidedBy === null ? null : actorView(ctx, row.decidedBy, 'ADMIN')),
    // Only ADMINs in scope read a proposal at all (the query, the node).
    viewerCanDecide: (row, _args, ctx) => row.status === 'PROPOSED' && row.proposedBy !== ctx.principal.subject,
    whatIf: async (row, { planYear, first }, ctx) => {
      const report = await proposals.proposalWhatIf(ctx.db, ctx.loaders.ruleSets, row, { planYear, first });
      return {
        planYear: report.planYear, claimsReplayed: report.claims, claimsChanged: report.changed,
        programmes: PROGRAMMES.map((programme) => ({
          programme, beforeFen: report.totals.before[programme] ?? 0, afterFen: report.totals.after[programme] ?? 0,
        })),
        funders: report.funders.map((f) => ({ funder: f.funder, beforeFen: f.before, afterFen: f.after })),
        totalBeforeFen: report.totals.before.total, totalAfterFen: report.totals.after.total,
        changedClaims: report.differences.map((d) => ({
          claimId: toGlobalId('Claim', d.claimId), status: d.status, eligibleBefore: d.eligibleBefore, eligibleAfter: d.eligibleAfter,
          totalBeforeFen: d.before.total, totalAfterFen: d.after.total,
        })),
      };
    },
  },

  RuleSetProposalConnection: {
    totalCount: countedTotal,
  },

  BenefitPreview: {
    json: (result) => JSON.stringify(printedPreview(result), null, 2),
  },

  BenefitPreviewLine: {
    ratioBasisPoints: (line) => line.ratioBp,
    funderCode: (line) => line.funder,
  },

  Member: {
    claims: async (member, { filter, ...args }, ctx) => {
      const page = readPage(args, store.CLAIM_ORDER);
      const claimFilter = { status: filter?.status, planYear: filter?.planYear };
      const rows = await ctx.loaders.claimsOfMember.load({ parentId: member.id, args: { filter: claimFilter, page } });
      return {
        ...toConnection(rows, page, (c) => c.id),
        count: () => store.countClaims(ctx.reads, scopeOf(ctx.principal), { ...claimFilter, memberId: member.id }),
      };
    },
    benefitTotals: (member, { year }, ctx) => {
      checkYear('year', year);
      return ctx.loaders.benefitTotals.load({ memberId: member.id, planYear: year });
    },
  },

  Settlement: {
    claim: (settlement, _args, ctx) => ctx.loaders.claimOfSettlement.load(settlement.id),
  },
};

/** Node types of this domain, for `Query.node`. */
export const benefitNodes = {
  Claim: (ctx: Context, id: number) => ctx.loaders.claim.load(id),
  BenefitLine: (ctx: Context, id: number) => ctx.loaders.benefitLine.load(id),
  RuleSetProposal: async (ctx: Context, id: number) => {
    if (!hasRole(ctx, proposals.RULE_SET_APPROVERS)) return null;
    const [row] = await proposalsByIds(ctx.reads, [id], scopeOf(ctx.principal));
    return row ?? null;
  },
};

/** A rule set version's key in its global ID: `default-2025@3`. */
const ruleSetKey = (ruleSetId: string, version: number) => `${ruleSetId}@${version}`;

/** Node types of this domain known by a text key; rule sets are read by every role, like `Query.ruleSets`. */
export const benefitKeyedNodes = {
  RuleSet: async (ctx: Context, key: string) => {
    const match = /^([a-z0-9][a-z0-9-]*)@(\d{1,9})$/.exec(key);
    if (!match) return null;
    await ctx.loaders.ruleSets.ensureShipped(ctx.db);
    return store.storedRuleSet(ctx.db, match[1]!, Number(match[2]));
  },
};
