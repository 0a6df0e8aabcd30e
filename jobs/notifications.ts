import { Worker } from 'bullmq';
import { deliverDue, type DeliveryContext } from '../src/notifications/delivery.ts';
import { NOTIFICATION_QUEUE, scheduleDeliveries } from '../src/notifications/queue.ts';
import type { WorkerServices } from './services.ts';

/**
 * The notification worker: every NOTIFY_POLL_MS (a BullMQ job scheduler) one job plans new
 * notifications into deliveries and sends the due ones (src/notifications/delivery.ts), round
 * after round while rounds come back full. Workers in several processes share the work through
 * row locks (SKIP LOCKED), never through Redis: a lost job costs a poll interval, nothing more.
 */
type NotificationWorkerServices = Pick<WorkerServices, 'db' | 'keys' | 'connection' | 'prefix' | 'log' | 'notifications'>;

// Rounds one job runs at most, so a flood yields the worker back now and then.
const MAX_ROUNDS = 20;

/** Re-adds the delivery schedule (a flushed Redis lost it); the work itself lives in PostgreSQL. */
export async function sweep({ notifications }: NotificationWorkerServices): Promise<number> {
  await scheduleDeliveries(notifications.queue, notifications.settings.pollMs);
  return 0;
}

export async function start({ db, keys, connection, prefix, log, notifications }: NotificationWorkerServices): Promise<Worker[]> {
  const context: DeliveryContext = { db, keys, settings: notifications.settings, log };
  if (!Object.keys(notifications.settings.channels).length) {
    log.warn('neither NOTIFY_SMS_URL nor NOTIFY_WECHAT_URL is set: notifications are recorded but not sent (the simulator: `hub sim notify`)');
  }
  const worker = new Worker(
    NOTIFICATION_QUEUE,
    async () => {
      let sent = 0;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const done = await deliverDue(context);
        sent += done.sent;
        if (done.claimed < notifications.settings.batchSize) break;
      }
      return { sent };
    },
    { connection, prefix, concurrency: 1 },
  );
  return [worker];
}
