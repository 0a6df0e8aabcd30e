import { Queue, type ConnectionOptions } from 'bullmq';
import { DEFAULT_JOB_OPTIONS } from '../queues.ts';

/**
 * Notice jobs: one per decision or payment notification without a notice (deterministic id
 * `notice-<notification id>`), carrying only that id; UNIQUE(notification_id) makes a repeated job a no-op.
 */
export const NOTICE_QUEUE = 'notices';

export type NoticeJobName = 'issue';

export interface NoticeJob {
  notificationId: number;
}

export const noticeJobId = (notificationId: number) => `notice-${notificationId}`;

/** The notices' queue, with the hub's job options. */
export function createNoticeQueue(connection: ConnectionOptions, prefix: string): Queue {
  return new Queue(NOTICE_QUEUE, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
}

export async function enqueueNotices(queue: Queue, notificationIds: readonly number[]): Promise<void> {
  if (!notificationIds.length) return;
  await queue.addBulk(notificationIds.map((notificationId) => ({
    name: 'issue' satisfies NoticeJobName, data: { notificationId } satisfies NoticeJob, opts: { jobId: noticeJobId(notificationId) },
  })));
}
