import DataLoader from 'dataloader';
import type { DomainResolvers } from '../gateway/payloads.ts';
import { actorOf, hasRole, requireRole, scopeOf, type Context } from '../gateway/context.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import { type CountedConnection, countedTotal, readPage, toConnection } from '../gateway/connection.ts';
import { forbidden, notFound, reasonOf } from '../kernel/errors.ts';
import { retryDelivery, setPreferences } from './decisions.ts';
import { renderMessage } from './messages.ts';
import { DELIVERY_READERS, DELIVERY_RETRIERS, type DeliveryRow, type NotificationRow } from './model.ts';
import {
  countDeliveries, countMemberNotifications, deliveriesByIds, deliveriesOfNotifications, listDeliveries,
  listMemberNotifications, NOTIFICATION_ORDER, notificationsByIds, readPreferences,
} from './store.ts';

export type NotificationConnectionResult = CountedConnection<NotificationRow>;
export type DeliveryConnectionResult = CountedConnection<DeliveryRow>;

/**
 * A member's notifications are the member's own: the member reads them, ADMIN and AUDITOR read
 * them (read-only); nobody else, not even the member's unit.
 */
const mayRead = (ctx: Context, memberId: number) =>
  (ctx.principal.role === 'MEMBER' && ctx.principal.memberId === memberId) || hasRole(ctx, DELIVERY_READERS);

function requireReader(ctx: Context, memberId: number): void {
  if (!mayRead(ctx, memberId)) throw forbidden(`a member's notifications are read by the member, ADMIN and AUDITOR; you are ${ctx.principal.role}`);
}

interface NotificationLoaders {
  notification: DataLoader<number, NotificationRow | null>;
  delivery: DataLoader<number, DeliveryRow | null>;
  deliveriesOf: DataLoader<number, DeliveryRow[]>;
}

// Per request, keyed by its context (the shared loaders are the older domains'; these die with the request).
const loadersOf = new WeakMap<Context, NotificationLoaders>();

function loaders(ctx: Context): NotificationLoaders {
  let found = loadersOf.get(ctx);
  if (!found) {
    const byId = <T extends { id: number }>(read: (ids: readonly number[]) => Promise<T[]>) => new DataLoader<number, T | null>(async (ids) => {
      const rows = new Map((await read(ids)).map((r) => [r.id, r]));
      return ids.map((id) => rows.get(id) ?? null);
    });
    found = {
      notification: byId((ids) => notificationsByIds(ctx.reads, ids, scopeOf(ctx.principal))),
      delivery: byId((ids) => deliveriesByIds(ctx.reads, ids, scopeOf(ctx.principal))),
      deliveriesOf: new DataLoader(async (ids) => {
        const rows = await deliveriesOfNotifications(ctx.db, ids);
        return ids.map((id) => rows.filter((r) => r.notificationId === id));
      }),
    };
    loadersOf.set(ctx, found);
  }
  return found;
}

async function visibleNotification(ctx: Context, id: number): Promise<NotificationRow | null> {
  const row = await loaders(ctx).notification.load(id);
  return row && mayRead(ctx, row.memberId) ? row : null;
}

async function visibleDelivery(ctx: Context, id: number): Promise<DeliveryRow | null> {
  const row = await loaders(ctx).delivery.load(id);
  return row && mayRead(ctx, row.memberId) ? row : null;
}

/** Notification and NotificationDelivery as `node`: null outside the caller's sight. */
export const notificationNodes = {
  Notification: visibleNotification,
  NotificationDelivery: visibleDelivery,
};

export const notificationResolvers: DomainResolvers = {
  Query: {
    notificationDeliveries: async (_root, { status, ...args }, ctx) => {
      requireRole(ctx, DELIVERY_READERS, 'reading notification deliveries');
      const page = readPage(args);
      const rows = await listDeliveries(ctx.reads, scopeOf(ctx.principal), status ?? null, page);
      for (const row of rows) loaders(ctx).delivery.prime(row.id, row);
      return { ...toConnection(rows, page, (d) => d.id), count: () => countDeliveries(ctx.reads, scopeOf(ctx.principal), status ?? null) };
    },
  },

  Mutation: {
    setMyNotificationPreferences: async (_root, { input }, ctx) => {
      requireRole(ctx, ['MEMBER'], 'setMyNotificationPreferences');
      // The member is the token's, never an argument: nobody sets another's channels.
      const preferences = await setPreferences(ctx.db, ctx.keys, actorOf(ctx.principal), ctx.principal.memberId!, input);
      return { preferences };
    },
    retryNotificationDelivery: async (_root, { input }, ctx) => {
      requireRole(ctx, DELIVERY_RETRIERS, 'retrying a notification delivery');
      const id = localId('input.deliveryId', input.deliveryId, 'NotificationDelivery');
      await retryDelivery(ctx.db, actorOf(ctx.principal), id, reasonOf('input.reason', input.reason), scopeOf(ctx.principal));
      loaders(ctx).delivery.clear(id);
      const delivery = await visibleDelivery(ctx, id);
      if (!delivery) throw notFound('notification delivery', 'input.deliveryId');
      return { delivery };
    },
  },

  Member: {
    notifications: async (member, args, ctx) => {
      requireReader(ctx, member.id);
      const page = readPage(args, NOTIFICATION_ORDER);
      const rows = await listMemberNotifications(ctx.reads, member.id, page);
      for (const row of rows) loaders(ctx).notification.prime(row.id, row);
      return { ...toConnection(rows, page, (n) => n.id), count: () => countMemberNotifications(ctx.reads, member.id) };
    },
    notificationPreferences: (member, _args, ctx) => {
      requireReader(ctx, member.id);
      return readPreferences(ctx.db, member.id);
    },
  },

  Notification: {
    id: (n) => toGlobalId('Notification', n.id),
    subjectId: (n) => toGlobalId(n.subjectType, n.subjectId),
    facts: (n) => n.facts,
    text: (n) => renderMessage(n).text,
    deliveries: (n, _args, ctx) => loaders(ctx).deliveriesOf.load(n.id),
  },

  NotificationDelivery: {
    id: (d) => toGlobalId('NotificationDelivery', d.id),
    notification: async (d, _args, ctx) => {
      const n = await visibleNotification(ctx, d.notificationId);
      if (!n) throw notFound('notification');
      return n;
    },
    // The channel's words may quote what was sent: staff only.
    lastError: (d, _args, ctx) => (hasRole(ctx, DELIVERY_READERS) ? d.lastError : null),
    nextAttemptAt: (d) => (d.status === 'PENDING' || d.status === 'UNKNOWN' ? d.nextAttemptAt : null),
    viewerCanRetry: (d, _args, ctx) => hasRole(ctx, DELIVERY_RETRIERS) && d.status === 'FAILED',
  },

  NotificationConnection: { totalCount: countedTotal },
  NotificationDeliveryConnection: { totalCount: countedTotal },
};
