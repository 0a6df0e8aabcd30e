import { inTransaction } from '../db/pool.ts';
import type { Db, Queryable, Tx } from '../kernel/transaction.ts';
import type { Scope } from '../kernel/scope.ts';
import { conflict, forbidden, invalid, invalidFields, notFound, noteOf, reasonOf } from '../kernel/errors.ts';
import type { FieldProblem } from '../kernel/problems.ts';
import { isIsoDate } from '../kernel/time.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { fundersNamed, validateRuleSet, type RuleSet } from './rules/ruleSet.ts';
import { listRuleSets, type RuleSetCache } from './catalogue.ts';
import type { RuleSetProposalRow } from './model.ts';
import * as store from './store.ts';
import * as proposals from './store/ruleSetProposals.ts';
import { replayYear, ReplayTooLarge, type ReplayReport } from './replay.ts';

/**
 * Rule-set changes under four eyes (四眼原则): an ADMIN proposes a new rule-set version or the
 * assignment of a stored version to an organisation and plan year; another ADMIN approves it (then
 * it is published or assigned) or rejects it. The proposer never decides their own proposal (here
 * and by the rule_set_proposals_four_eyes and organisation_rule_sets_four_eyes CHECKs). Staff of an
 * organisation propose and decide only for their organisation and those below it. Every step is audited.
 */
export const RULE_SET_PROPOSERS = ['ADMIN'] as const;
export const RULE_SET_APPROVERS = ['ADMIN'] as const;

function requireAdmin(actor: Actor, roles: readonly string[], what: string): void {
  if (!roles.includes(actor.role)) throw forbidden(`${what} needs one of the roles ${roles.join(', ')}; you are ${actor.role}`);
}

/**
 * Problems for each funder the rule set names that may not pay for the organisation it governs
 * (`governed`: the publisher's for a publication, the target's for an assignment; null for the hub's
 * own, which may become a plan year's fallback everywhere), under `at` (a field prefix such as
 * `input.definition.`). Whose money a line is follows the rule set: naming a fund beside or below the
 * governed organisation would spend another organisation's money. An unknown funder reads as one it
 * may not name (an organisation's staff learn nothing of funders outside their path).
 */
async function foreignFunders(db: Queryable, ruleSet: RuleSet, at: string, governed: number | null): Promise<FieldProblem<string>[]> {
  const named = fundersNamed(ruleSet);
  const { organisation, paying } = await proposals.fundersPayingFor(db, named.map((n) => n.code), governed);
  const reason = (code: string) => organisation === null
    ? `names funder ${code}; a rule set the hub publishes may govern every organisation (as a plan year's fallback), so it names only UNION`
    : `names funder ${code}, which is neither UNION nor a funder of ${organisation} or of an organisation above it: only those pay for ${organisation}'s members`;
  return named.filter((n) => !paying.has(n.code)).map((n) => ({ field: `${at}${n.field}`, reason: reason(n.code) }));
}

/** The definition checked as the next version of its id would be; problems name their field under `input.definition`. */
async function checkedDefinition(tx: Tx, definition: Record<string, unknown>, at: string, publisher: number | null): Promise<RuleSet> {
  const { id } = definition;
  if (typeof id !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(id)) throw invalid(`${at}id`, 'must be lower-case letters, digits and dashes');
  // An id a shipped file names is the hub's: an organisation's version of it would stand where the
  // file's belongs (ensureShippedRuleSets refuses to load the file beside it).
  if (publisher !== null && listRuleSets().some((rs) => rs.id === id)) {
    throw invalid(`${at}id`, `rule set ${id} ships with the hub; publish your own under a new id`);
  }
  // Taken first: it orders the publishers of this id, so the check below sees a version another
  // publisher committed while this one waited.
  const next = await store.nextVersion(tx, id);
  // An organisation's staff publish their own rule sets: a new version of one the hub or another
  // organisation published would change how claims outside their subtree are decided.
  if (publisher !== null && await store.ruleSetPublishedOutside(tx, id, publisher)) {
    throw invalid(`${at}id`, `rule set ${id} was published by the hub or another organisation; publish your own under a new id`);
  }
  const checked = validateRuleSet({ ...definition, version: next });
  const problems = [
    ...(definition.version !== undefined && definition.version !== next ? [{ field: 'version', reason: `must be ${next} (the next version of ${id}) or omitted` }] : []),
    ...(checked.ok ? [] : checked.errors),
  ].map((p) => ({ field: `${at}${p.field}`, reason: p.reason }));
  if (checked.ok) problems.push(...await foreignFunders(tx, checked.ruleSet, at, publisher));
  if (!checked.ok || problems.length) throw invalidFields(problems);
  return checked.ruleSet;
}

/**
 * Proposes the next version of a rule set: checked now as a whole (as it would be published), stored
 * as a PROPOSED publication. Its version is taken when it is approved.
 */
export async function proposeRuleSet(
  db: Db, cache: RuleSetCache, actor: Actor, scope: Scope, input: { definition: Record<string, unknown>; note?: string | null },
): Promise<RuleSetProposalRow> {
  requireAdmin(actor, RULE_SET_PROPOSERS, 'proposing a rule set');
  const note = noteOf('input.note', input.note) ?? '';
  await cache.ensureShipped(db);
  return inTransaction(db, async (tx) => {
    const ruleSet = await checkedDefinition(tx, input.definition, 'input.definition.', scope.organisationId);
    const { version: _taken, ...definition } = ruleSet;
    const row = await proposals.insertProposal(tx, {
      kind: 'PUBLICATION', ruleSetId: ruleSet.id, ruleSetVersion: null, definition, organisationId: scope.organisationId,
      planYear: null, effectiveFrom: null, note, proposedBy: actor.subject,
    });
    await recordAudit(tx, actor, {
      action: 'ruleset.propose', targetType: 'RuleSetProposal', targetId: String(row.id),
      details: { kind: row.kind, ruleSetId: row.ruleSetId, planYears: ruleSet.planYears },
    });
    return row;
  });
}

export interface AssignmentInput {
  organisationId: number;
  planYear: number;
  ruleSetId: string;
  version: number;
  effectiveFrom: string;
  note?: string | null;
}

/** Proposes that a stored rule-set version govern an organisation's plan year (and those below it) from a date. */
export async function proposeRuleSetAssignment(
  db: Db, cache: RuleSetCache, actor: Actor, scope: Scope, input: AssignmentInput,
): Promise<RuleSetProposalRow> {
  requireAdmin(actor, RULE_SET_PROPOSERS, 'proposing a rule-set assignment');
  const note = noteOf('input.note', input.note) ?? '';
  const problems: FieldProblem<string>[] = [];
  if (!Number.isInteger(input.planYear) || input.planYear < 2000 || input.planYear > 2100) problems.push({ field: 'input.planYear', reason: 'must be a year between 2000 and 2100' });
  if (!isIsoDate(input.effectiveFrom)) problems.push({ field: 'input.effectiveFrom', reason: 'must be a date yyyy-MM-dd' });
  if (problems.length) throw invalidFields(problems);
  await cache.ensureShipped(db);
  return inTransaction(db, async (tx) => {
    if (!await proposals.organisationInScope(tx, input.organisationId, scope)) throw notFound('organisation', 'input.organisationId');
    const row = await store.storedRuleSet(tx, input.ruleSetId, input.version);
    if (!row) throw invalid('input.version', `no rule set ${input.ruleSetId} version ${input.version}`);
    const ruleSet = cache.ruleSetOf(row);
    if (!ruleSet.planYears.includes(input.planYear)) {
      throw invalid('input.planYear', `rule set ${ruleSet.id} v${ruleSet.version} covers plan years ${ruleSet.planYears.join(', ')}, not ${input.planYear}`);
    }
    const foreign = await foreignFunders(tx, ruleSet, '', input.organisationId);
    if (foreign.length) throw invalid('input.version', foreign.map((m) => `${m.field} ${m.reason}`).join('; '));
    const proposal = await proposals.insertProposal(tx, {
      kind: 'ASSIGNMENT', ruleSetId: ruleSet.id, ruleSetVersion: ruleSet.version, definition: null, organisationId: input.organisationId,
      planYear: input.planYear, effectiveFrom: input.effectiveFrom, note, proposedBy: actor.subject,
    });
    await recordAudit(tx, actor, {
      action: 'ruleset.propose', targetType: 'RuleSetProposal', targetId: String(proposal.id),
      details: { kind: proposal.kind, ruleSet: `${ruleSet.id}@${ruleSet.version}`, organisationId: input.organisationId, planYear: input.planYear, effectiveFrom: input.effectiveFrom },
    });
    return proposal;
  });
}

/** The PROPOSED proposal in `scope`, locked, that `actor` (not its proposer) may decide. */
async function decidable(tx: Tx, actor: Actor, scope: Scope, proposalId: number): Promise<RuleSetProposalRow> {
  const proposal = await proposals.lockProposal(tx, proposalId, scope);
  if (!proposal) throw notFound('rule-set proposal', 'input.proposalId');
  if (proposal.status !== 'PROPOSED') throw conflict(`the proposal is ${proposal.status} already`, 'input.proposalId');
  if (proposal.proposedBy === actor.subject) throw conflict('four eyes: a rule-set proposal is decided by another ADMIN than its proposer', 'input.proposalId');
  return proposal;
}

/**
 * Approves a proposal: a publication becomes the next version of its rule set (checked again as
 * that version, its funders again), an assignment is added to the organisation's history. One
 * transaction; a refusal changes nothing.
 */
export async function approveRuleSetProposal(
  db: Db, cache: RuleSetCache, actor: Actor, scope: Scope, input: { proposalId: number; note?: string | null },
): Promise<RuleSetProposalRow> {
  requireAdmin(actor, RULE_SET_APPROVERS, 'approving a rule-set proposal');
  const note = noteOf('input.note', input.note);
  await cache.ensureShipped(db);
  return inTransaction(db, async (tx) => {
    const proposal = await decidable(tx, actor, scope, input.proposalId);
    if (proposal.kind === 'PUBLICATION') {
      // Checked again: the next version, the funders, the schema may all have moved since it was proposed.
      const ruleSet = await checkedDefinition(tx, proposal.definition!, '', proposal.organisationId);
      const published = await store.insertRuleSet(tx, ruleSet, proposal.proposedBy, proposal.organisationId);
      const decided = await proposals.decideProposal(tx, proposal.id, { status: 'APPROVED', decidedBy: actor.subject, note, ruleSetVersion: published.version });
      await recordAudit(tx, actor, {
        action: 'ruleset.publish', targetType: 'RuleSet', targetId: `${published.ruleSetId}@${published.version}`,
        details: { proposalId: proposal.id, proposedBy: proposal.proposedBy, planYears: published.planYears },
      });
      return decided;
    }
    // Checked again: one proposed before funders were held to the organisation, or a funder registered anew under its code meanwhile.
    const row = await store.storedRuleSet(tx, proposal.ruleSetId, proposal.ruleSetVersion);
    const foreign = await foreignFunders(tx, cache.ruleSetOf(row!), '', proposal.organisationId);
    if (foreign.length) throw invalidFields(foreign);
    const assignmentId = await proposals.insertAssignment(tx, proposal, actor.subject);
    const decided = await proposals.decideProposal(tx, proposal.id, { status: 'APPROVED', decidedBy: actor.subject, note });
    await recordAudit(tx, actor, {
      action: 'ruleset.assign', targetType: 'RuleSetProposal', targetId: String(proposal.id),
      details: {
        assignmentId, proposedBy: proposal.proposedBy, ruleSet: `${proposal.ruleSetId}@${proposal.ruleSetVersion}`,
        organisationId: proposal.organisationId, planYear: proposal.planYear, effectiveFrom: proposal.effectiveFrom,
      },
    });
    return decided;
  });
}

/** Rejects a proposal with a reason (by another ADMIN than its proposer). */
export async function rejectRuleSetProposal(
  db: Db, actor: Actor, scope: Scope, input: { proposalId: number; reason: string },
): Promise<RuleSetProposalRow> {
  requireAdmin(actor, RULE_SET_APPROVERS, 'rejecting a rule-set proposal');
  const reason = reasonOf('input.reason', input.reason);
  return inTransaction(db, async (tx) => {
    const proposal = await decidable(tx, actor, scope, input.proposalId);
    const decided = await proposals.decideProposal(tx, proposal.id, { status: 'REJECTED', decidedBy: actor.subject, note: reason });
    await recordAudit(tx, actor, {
      action: 'ruleset.reject', targetType: 'RuleSetProposal', targetId: String(proposal.id), reason,
      details: { kind: proposal.kind, proposedBy: proposal.proposedBy },
    });
    return decided;
  });
}

/** A what-if reads at most this many decided claims (more is refused: the caller picks a smaller subtree or year). */
export const WHAT_IF_MAX_CLAIMS = 20_000;

/** The rule set a proposal would bring in: an assignment's stored version, or a publication's definition. */
async function proposedRuleSet(db: Queryable, cache: RuleSetCache, proposal: RuleSetProposalRow): Promise<RuleSet> {
  if (proposal.kind === 'ASSIGNMENT') {
    const row = await store.storedRuleSet(db, proposal.ruleSetId, proposal.ruleSetVersion);
    return cache.ruleSetOf(row!);
  }
  // Checked when proposed; its version is only taken on approval.
  const checked = validateRuleSet({ ...proposal.definition, version: proposal.ruleSetVersion ?? 1 });
  if (!checked.ok) throw new Error(`proposal ${proposal.id} holds an invalid definition`);
  return checked.ruleSet;
}

/**
 * What-if of a proposal (reads only): the decided claims of `planYear` (by default the year before
 * the one it governs) of the proposal's organisation subtree (all, for a hub-wide publication)
 * replayed under the proposed rule set (replay.ts), with at most `first` changed claims listed.
 */
export async function proposalWhatIf(
  db: Queryable, cache: RuleSetCache, proposal: RuleSetProposalRow, options: { planYear?: number | null; first?: number | null },
): Promise<ReplayReport> {
  const first = options.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > 100) throw invalid('first', 'must be 1 to 100');
  const ruleSet = await proposedRuleSet(db, cache, proposal);
  const planYear = options.planYear ?? (proposal.planYear ?? Math.min(...ruleSet.planYears)) - 1;
  if (!Number.isInteger(planYear) || planYear < 2000 || planYear > 2100) throw invalid('planYear', 'must be a year between 2000 and 2100');
  try {
    return await replayYear(db, ruleSet, planYear, { organisationId: proposal.organisationId, maxClaims: WHAT_IF_MAX_CLAIMS, maxDifferences: first });
  } catch (error) {
    if (error instanceof ReplayTooLarge) throw invalid('planYear', `the organisation has more than ${error.limit} decided claims in ${planYear}: too many for a what-if`);
    throw error;
  }
}
