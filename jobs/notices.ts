import { Worker, type Job } from 'bullmq';
import { issueNotice } from '../src/notices/issue.ts';
import { enqueueNotices, NOTICE_QUEUE, noticeJobId, type NoticeJob } from '../src/notices/queue.ts';
import { notificationsWithoutNotice } from '../src/notices/store.ts';
import { clearStaleJobIds } from '../src/queues.ts';
import type { WorkerServices } from './services.ts';

/**
 * The notice worker: renders, seals and stores the notice of each decision or payment
 * notification (src/notices/issue.ts). Its sweep finds the notifications without a notice in
 * PostgreSQL, so a notice follows its decision within SWEEP_SECONDS whether or not a job was added.
 * Without a usable seal (`services.notices` null) it does nothing.
 */
type NoticeServices = Pick<WorkerServices, 'db' | 'connection' | 'prefix' | 'notices'>;

/** Rendering and sealing is CPU work of a tenth of a second or so: a few at a time. */
const CONCURRENCY = 2;
const SWEEP_PAGE = 1000;

export async function start({ db, connection, prefix, notices }: NoticeServices): Promise<Worker[]> {
  if (!notices) return [];
  const issue = async (job: Job<NoticeJob>) => ({ noticeId: await issueNotice(db, notices.settings, job.data.notificationId) });
  return [new Worker<NoticeJob>(NOTICE_QUEUE, issue, { connection, prefix, concurrency: CONCURRENCY })];
}

/** Adds a job for every decision or payment notification that has no notice yet (the oldest SWEEP_PAGE). */
export async function sweep({ db, notices }: NoticeServices): Promise<number> {
  if (!notices) return 0;
  const ids = await notificationsWithoutNotice(db, SWEEP_PAGE);
  await clearStaleJobIds(notices.queue, ids.map(noticeJobId));
  await enqueueNotices(notices.queue, ids);
  return ids.length;
}
