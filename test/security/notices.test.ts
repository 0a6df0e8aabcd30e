import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDevCertificates } from '../../certs/devCa.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { issueNotice, type NoticeSettings } from '../../src/notices/issue.ts';
import { noticeSettings } from '../../src/notices/settings.ts';
import { DEV_SEAL_P12_PASSPHRASE } from '../../src/seals/settings.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { decidedClaim, namedMember, notify } from '../notices/support.ts';
import type { MemberSetup } from '../benefits/seed.ts';

/**
 * Sealed notices as an attacker tries them: another member's notice (by node, by list, by an
 * edited download URL), a used URL, forged notice ids, a unit operator (who sees claims but never
 * notices), and an AUDITOR, who reads notices but cannot have them issued.
 */
let db: TestDatabase;
let gw: TestGateway;
let origin: string;
let certsDir: string;
let settings: NoticeSettings;
let a: MemberSetup;
let b: MemberSetup;
let noticeA: number;
let noticeB: number;

const asMember = (m: MemberSetup) => ({ role: 'MEMBER' as const, sub: `member-${m.memberId}`, member: toGlobalId('Member', m.memberId) });
const ADMIN = { role: 'ADMIN' as const, sub: 'admin-zhang' };
const AUDITOR = { role: 'AUDITOR' as const, sub: 'auditor-lin' };

const NOTICE = `query($id: ID!) { node(id: $id) { ... on Notice { id number kind title sha256 downloadUrl { url } } } }`;
const MY_NOTICES = `{ viewer { member { notices { id number kind downloadUrl { url } } } } }`;
const ISSUE = `mutation($input: IssueNoticesInput!) { issueNotices(input: $input) { notices { id kind } userErrors { field code message } } }`;

/** A CLAIM_DECIDED notification of a freshly decided claim of the member, and its notice. */
async function claimNotice(m: MemberSetup): Promise<number> {
  const claimId = await decidedClaim(db.pool, m);
  const notificationId = await notify(db.pool, { memberId: m.memberId, kind: 'CLAIM_DECIDED', subjectType: 'Claim', subjectId: claimId, facts: {} });
  return (await issueNotice(db.pool, settings, notificationId))!;
}

beforeAll(async () => {
  // The gateway seals with the configured union seal: this file's development certificates.
  certsDir = mkdtempSync(path.join(tmpdir(), 'hub-notice-certs-'));
  writeDevCertificates(certsDir, { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });
  process.env.CERTS_DIR = certsDir;
  db = await freshDatabase();
  gw = await startTestGateway(db);
  origin = new URL(gw.url).origin;
  settings = noticeSettings(gw.config, gw.keys);
  a = await namedMember(db.pool, '甲会员');
  b = await namedMember(db.pool, '乙会员');
  noticeA = await claimNotice(a);
  noticeB = await claimNotice(b);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
  rmSync(certsDir, { recursive: true, force: true });
});

async function download(url: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const response = await fetch(origin + url);
  return { status: response.status, type: response.headers.get('content-type'), bytes: Buffer.from(await response.arrayBuffer()) };
}

/** The URL with the token's claims changed and its signature kept. */
function edited(url: string, change: Record<string, unknown>): string {
  const [prefix, token] = [url.slice(0, url.indexOf('=') + 1), url.slice(url.indexOf('=') + 1)];
  const [body, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8'));
  return `${prefix}${Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url')}.${signature}`;
}

describe('a member and its notices', () => {
  it('lists and downloads its own notice once; the bytes are the sealed PDF of the stored hash; the download is audited', async () => {
    const { data } = await gw.query(asMember(a), MY_NOTICES);
    const notices = data.viewer.member.notices;
    expect(notices.map((n: { id: string }) => n.id)).toEqual([toGlobalId('Notice', noticeA)]);
    const url = notices[0].downloadUrl.url;
    const first = await download(url);
    expect(first.status).toBe(200);
    expect(first.type).toBe('application/pdf');
    expect(first.bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const { rows } = await db.pool.query<{ sha256: Buffer }>(`SELECT sha256 FROM notices WHERE id = $1`, [noticeA]);
    expect(createHash('sha256').update(first.bytes).digest().equals(rows[0]!.sha256)).toBe(true);
    // A used URL is refused: a leaked link is good for one download.
    expect((await download(url)).status).toBe(410);
    const audit = await db.pool.query(`SELECT 1 FROM audit_log WHERE action = 'notice.download' AND actor = $1 AND (details ->> 'noticeId')::bigint = $2`,
      [asMember(a).sub, noticeA]);
    expect(audit.rowCount).toBe(1);
  });

  it('cannot see or fetch another member\'s notice: not by node, not in its list, not by editing its URL', async () => {
    expect((await gw.query(asMember(a), NOTICE, { id: toGlobalId('Notice', noticeB) })).data.node).toBeNull();
    const mine = (await gw.query(asMember(a), MY_NOTICES)).data.viewer.member.notices;
    expect(mine.map((n: { id: string }) => n.id)).not.toContain(toGlobalId('Notice', noticeB));
    // Its own URL, the object changed to B's notice: the signature no longer matches.
    expect((await download(edited(mine[0].downloadUrl.url, { objectId: String(noticeB) }))).status).toBe(403);
    // The scope widened to everyone's: the same.
    expect((await download(edited(mine[0].downloadUrl.url, { scope: { unitId: null, memberId: null } }))).status).toBe(403);
  });

  it('gets nothing for forged notice ids', async () => {
    // Unknown, malformed, negative, B's id with junk after it, and another type's id of the same number.
    const forged = [toGlobalId('Notice', 987654321), toGlobalId('Notice', 'x'), toGlobalId('Notice', -1), `${toGlobalId('Notice', noticeB)}x`, toGlobalId('Claim', noticeB)];
    for (const id of forged) {
      const { data, errors } = await gw.query(asMember(a), NOTICE, { id });
      expect(errors ?? []).toEqual([]);
      expect(data.node?.number).toBeUndefined();
    }
  });

  it('is refused a URL issued to another member for its own notice\'s id: the URL names its subject and scope', async () => {
    const theirs = (await gw.query(asMember(b), MY_NOTICES)).data.viewer.member.notices[0].downloadUrl.url;
    // B's valid URL works for B's notice only, and only once, whoever holds it.
    expect((await download(edited(theirs, { objectId: String(noticeA) }))).status).toBe(403);
    expect((await download(theirs)).status).toBe(200);
    expect((await download(theirs)).status).toBe(410);
  });
});

describe('staff and notices', () => {
  it('a unit operator of the member\'s unit sees the member but none of its notices', async () => {
    const { rows } = await db.pool.query<{ credit_code: string }>(`SELECT credit_code FROM units WHERE id = $1`, [a.unitId]);
    const operator = { role: 'UNIT_OPERATOR' as const, sub: 'operator-a', unit: rows[0]!.credit_code };
    const { data } = await gw.query(operator, `query($id: ID!) { node(id: $id) { ... on Member { id notices { id } } } }`, { id: toGlobalId('Member', a.memberId) });
    expect(data.node.id).toBe(toGlobalId('Member', a.memberId));
    expect(data.node.notices).toEqual([]);
    expect((await gw.query(operator, NOTICE, { id: toGlobalId('Notice', noticeA) })).data.node).toBeNull();
  });

  it('an AUDITOR reads and downloads any member\'s notice but cannot have notices issued', async () => {
    const { data } = await gw.query(AUDITOR, NOTICE, { id: toGlobalId('Notice', noticeB) });
    expect(data.node.title).toBe('职工医疗互助金核定通知书');
    expect((await download(data.node.downloadUrl.url)).status).toBe(200);
    const refused = await gw.query(AUDITOR, ISSUE, { input: { memberId: toGlobalId('Member', a.memberId) } });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('a member cannot have notices issued either, and an ADMIN issues the pending ones exactly once', async () => {
    const claimId = await decidedClaim(db.pool, a);
    await notify(db.pool, { memberId: a.memberId, kind: 'CLAIM_DECIDED', subjectType: 'Claim', subjectId: claimId, facts: {} });
    const input = { memberId: toGlobalId('Member', a.memberId) };
    expect((await gw.query(asMember(a), ISSUE, { input })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const first = (await gw.query(ADMIN, ISSUE, { input })).data.issueNotices;
    expect(first.userErrors).toEqual([]);
    expect(first.notices).toHaveLength(1);
    expect(first.notices[0].kind).toBe('CLAIM_DECIDED');
    expect((await gw.query(ADMIN, ISSUE, { input })).data.issueNotices.notices).toEqual([]);
    const { data } = await gw.query(asMember(a), `query($id: ID!) { node(id: $id) { ... on Claim { notices { id } } } }`, { id: toGlobalId('Claim', claimId) });
    expect(data.node.notices.map((n: { id: string }) => n.id)).toEqual([first.notices[0].id]);
  });

  it('refuses a forged member id in issueNotices as a user error on input.memberId', async () => {
    for (const memberId of ['x'.repeat(5000), toGlobalId('Notice', noticeA), toGlobalId('Member', 987654321)]) {
      const { data } = await gw.query(ADMIN, ISSUE, { input: { memberId } });
      expect(data.issueNotices.notices).toBeNull();
      expect(data.issueNotices.userErrors[0].field).toBe('input.memberId');
    }
  });
});
