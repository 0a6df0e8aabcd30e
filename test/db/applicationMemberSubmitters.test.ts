import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { describe, expect, it } from 'vitest';
import { localId } from '../../src/gateway/globalId.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { TEST_DATABASE_URL } from '../support/db.ts';
import { seedSettlement } from '../benefits/seed.ts';
import { ACCEPT, memberOf, RESUBMIT, RETURN, seedApplicant, stay, submit } from '../applications/support.ts';

/**
 * 0063 keeps every subject that submitted a round of an application as the MEMBER (member_submitters),
 * none of whom accepts it. Applications from before it get theirs from the audit log (a member round
 * that staff resubmitted after is no longer the last submitter), and an acceptance 0036 left as it was
 * (NOT VALID) does not stop the migration.
 */
const MIGRATIONS = fileURLToPath(new URL('../../src/db/migrations', import.meta.url));
const started = lazyTestGateway();

/** 0063 and every migration after it, to undo and apply again. */
const FROM_0063 = readdirSync(MIGRATIONS).filter((f) => /^\d{4}_.*\.sql$/.test(f) && Number(f.slice(0, 4)) >= 63).length;

async function migrateFrom0063(schema: string, direction: 'up' | 'down'): Promise<void> {
  await runner({
    databaseUrl: TEST_DATABASE_URL, dir: MIGRATIONS, direction, count: FROM_0063, migrationsTable: 'pgmigrations', schema,
    checkOrder: true, singleTransaction: true, noLock: true, log: () => undefined,
  });
}

describe('the member submitters of applications (0063)', () => {
  it('are taken from the audit log for applications from before it, an old acceptance by a filer included', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const member = memberOf(applicant);
    const admin = { role: 'ADMIN' as const, sub: 'admin-helper' };
    // Waiting: the member filed round 1; an ADMIN resubmitted round 2 and is its last submitter.
    const waiting = await submit(gw, member, { stay: stay({ admittedOn: '2025-03-01', dischargedOn: '2025-03-09' }) });
    await gw.query({ role: 'REVIEWER', sub: 'reviewer-sun' }, RETURN, { input: { applicationId: waiting.application.id, round: 1, reason: 'OTHER', note: 'please sign the form' } });
    const resubmitted = await gw.query(admin, RESUBMIT, { input: { applicationId: waiting.application.id, stay: stay({ admittedOn: '2025-03-01', dischargedOn: '2025-03-09' }), attachments: [] } });
    expect(resubmitted.data.resubmitApplication.userErrors).toEqual([]);
    // Accepted before 0036: an ADMIN filed it, the member resubmitted it, and the ADMIN accepted it
    // (0036 kept the row as it was: its CHECK is NOT VALID).
    const old = await submit(gw, admin, { memberId: member.member, channel: 'COUNTER', stay: stay({ admittedOn: '2025-03-11', dischargedOn: '2025-03-19' }) });
    await gw.query({ role: 'REVIEWER', sub: 'reviewer-sun' }, RETURN, { input: { applicationId: old.application.id, round: 1, reason: 'OTHER', note: 'please sign the form' } });
    const byMember = await gw.query(member, RESUBMIT, { input: { applicationId: old.application.id, stay: stay({ admittedOn: '2025-03-11', dischargedOn: '2025-03-19' }), attachments: [] } });
    expect(byMember.data.resubmitApplication.userErrors).toEqual([]);
    const waitingId = localId('id', waiting.application.id, 'Application');
    const oldId = localId('id', old.application.id, 'Application');

    await migrateFrom0063(db.schema, 'down');
    const settlementId = await seedSettlement(db.pool, applicant);
    await db.pool.query(`ALTER TABLE applications DROP CONSTRAINT applications_four_eyes`);
    await db.pool.query(`UPDATE applications SET status = 'ACCEPTED', decided_by = 'admin-helper', decided_at = now(), settlement_id = $2 WHERE id = $1`, [oldId, settlementId]);
    await db.pool.query(`ALTER TABLE applications ADD CONSTRAINT applications_four_eyes CHECK (status <> 'ACCEPTED' OR decided_by <> ALL (entered_by)) NOT VALID`);
    await migrateFrom0063(db.schema, 'up');

    const { rows } = await db.pool.query(`SELECT id, status, member_submitters, entered_by FROM applications WHERE id = ANY($1::bigint[]) ORDER BY id`, [[waitingId, oldId]]);
    expect(rows).toEqual([
      { id: waitingId, status: 'SUBMITTED', member_submitters: [member.sub], entered_by: ['admin-helper'] },
      { id: oldId, status: 'ACCEPTED', member_submitters: [member.sub], entered_by: ['admin-helper'] },
    ]);
    const own = (await gw.query({ role: 'REVIEWER', sub: member.sub }, ACCEPT, { id: waiting.application.id, round: 2 })).data.acceptApplication;
    expect(own.userErrors).toEqual([expect.objectContaining({ field: 'input.applicationId', code: 'CONFLICT' })]);
  });
});
