import { Queue, type ConnectionOptions } from 'bullmq';
import { DEFAULT_JOB_OPTIONS } from '../queues.ts';

/**
 * Notification jobs: one scheduled job, 'deliver', every NOTIFY_POLL_MS. The work is in
 * PostgreSQL (notifications without deliveries, due deliveries), so a job carries nothing and a
 * lost one costs a poll interval; 'deliver-now' asks for a round at once (after a staff retry).
 */
export const NOTIFICATION_QUEUE = 'notifications';
export type NotificationJobName = 'deliver';

const SCHEDULER_KEY = 'deliver-notifications';
const SCHEDULED = { removeOnComplete: true, removeOnFail: 100 };

export function createNotificationQueue(connection: ConnectionOptions, prefix: string): Queue {
  return new Queue(NOTIFICATION_QUEUE, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
}

/** The delivery schedule; upserted only when missing or changed (upserting starts a run at once). */
export async function scheduleDeliveries(queue: Queue, everyMs: number): Promise<void> {
  const existing = (await queue.getJobSchedulers()).find((s) => s.key === SCHEDULER_KEY);
  if (existing?.every !== everyMs) await queue.upsertJobScheduler(SCHEDULER_KEY, { every: everyMs }, { name: 'deliver' satisfies NotificationJobName, opts: SCHEDULED });
}

