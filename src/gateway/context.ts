import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { StatusChange, StatusFeed } from '../events/statusEvents.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import type { Principal, Role } from './auth.ts';
import type { MemberLoaders } from '../members/loaders.ts';
import type { SettlementLoaders } from '../settlements/loaders.ts';
import type { BenefitLoaders } from '../benefits/loaders.ts';
import type { PayoutLoaders } from '../payouts/loaders.ts';
import type { ReconciliationLoaders } from '../reconciliation/loaders.ts';
import type { Actor } from '../audit/audit.ts';
import { forbidden } from '../kernel/errors.ts';
import type { Queues } from '../queues.ts';
import type { Config } from '../config.ts';
import type { Scope } from '../kernel/scope.ts';
import type { Reads } from '../kernel/transaction.ts';

/** What the gateway's resolvers share; built once per process (services) and per request. */
export interface Services {
  db: pg.Pool;
  keys: PersonalDataKeys;
  queues: Queues;
  /** Shared Redis connection (rate limits, status events); BullMQ has its own through `queues`. */
  redis: Redis;
}

export interface Context extends Services {
  /**
   * The request's reads: statements asked before the event loop turns go to one connection in one
   * write (src/db/reads.ts). Loaders and pages read through it; `db` is for transactions.
   */
  reads: Reads;
  /** This gateway's configuration (resolvers read settings here, never the process-wide `config()`). */
  config: Config;
  principal: Principal;
  loaders: MemberLoaders & SettlementLoaders & BenefitLoaders & PayoutLoaders & ReconciliationLoaders;
  /** A fresh set of loaders: a subscription takes one per event, so no row it shows is stale. */
  newLoaders(): Context['loaders'];
  /** Announces committed status changes to subscribers (src/events/statusEvents.ts); call after the commit. */
  publishStatusChanges(changes: StatusChange[]): Promise<void>;
  /** Status changes as they are announced (subscriptions read it). */
  statusFeed: StatusFeed;
}

export function scopeOf(principal: Principal): Scope {
  if (principal.role === 'UNIT_OPERATOR') return { unitId: principal.unitId, memberId: null, organisationId: null };
  if (principal.role === 'MEMBER') return { unitId: null, memberId: principal.memberId, organisationId: null };
  return { unitId: null, memberId: null, organisationId: principal.organisationId ?? null };
}

export function actorOf(principal: Principal): Actor {
  return { subject: principal.subject, role: principal.role };
}

/** Whether the caller is the hub's own staff (a token naming no organisation): work spanning every organisation is theirs. */
export function isHubStaff(principal: Pick<Principal, 'organisationId'>): boolean {
  return principal.organisationId == null;
}

/**
 * `requireRole`, and refused to staff bound to an organisation: for the hub's own work across every
 * organisation (settlement sources and ingestion, bank statements and reconciliation, the queues).
 */
export function requireHubRole(ctx: Pick<Context, 'principal'>, roles: readonly Role[], operation: string): void {
  requireRole(ctx, roles, operation);
  if (!isHubStaff(ctx.principal)) throw forbidden(`${operation} is the hub's own work, across every organisation; your token is bound to one`);
}

/** Whether the caller holds one of `roles`: the check `requireRole` makes, for the API's permission hints. */
export function hasRole(ctx: Pick<Context, 'principal'>, roles: readonly Role[]): boolean {
  return roles.includes(ctx.principal.role);
}

/** Refuses the operation unless the caller holds one of `roles`. */
export function requireRole(ctx: Pick<Context, 'principal'>, roles: readonly Role[], operation: string): void {
  if (!hasRole(ctx, roles)) {
    throw forbidden(`${operation} needs one of the roles ${roles.join(', ')}; you are ${ctx.principal.role}`);
  }
}

/** Who did something, as the API shows them (`Actor`): the recorded subject and role, and whether it is the caller. */
export function actorView(ctx: Pick<Context, 'principal'>, subject: string, role: Role | null = null) {
  return { subject, role, isViewer: subject === ctx.principal.subject };
}
