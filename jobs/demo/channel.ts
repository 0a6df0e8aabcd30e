import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import type { Config } from '../../src/config.ts';
import { signDevelopmentToken, type TokenClaims } from '../../src/gateway/auth.ts';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { fenToCnyGrouped } from '../../src/kernel/money.ts';
import { DEMO_WAIT_MS, pollUntil } from './wait.ts';
import { apiCaller, type ApiCall } from './api.ts';

/**
 * For `hub demo`: one member's own channel (网上办), played through the GraphQL API as the
 * member's mini-program and the union's staff use it. The member applies for a stay the feed
 * does not carry, with a settlement sheet and an invoice; a reviewer accepts it and it is
 * adjudicated like any settlement; a reviewer rejects the claim; the member appeals with a
 * discharge summary; a second reviewer upholds the appeal and the claim is decided again; the
 * member downloads its sealed notice, which the demo writes under `.data/demo/`.
 */

const NOTICE_DIR = '.data/demo';

// A 1×1 PNG: the invoice photo a phone would take, as small as a valid PNG gets.
const INVOICE_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

export interface ChannelDemo {
  lines: string[];
  noticePath: string;
}

export async function playMemberChannel(config: Config, origin: string, adminToken: string): Promise<ChannelDemo> {
  const token = (claims: Partial<TokenClaims> & Pick<TokenClaims, 'role' | 'sub'>) => signDevelopmentToken(config, claims);
  const call = apiCaller(origin, 'the member channel demo');

  const memberId = await renewedCoveredMember(call, adminToken);
  const member = await token({ sub: 'demo-member', role: 'MEMBER', member: memberId });
  const reviewerLi = await token({ sub: 'demo-reviewer-li', role: 'REVIEWER' });
  const reviewerWang = await token({ sub: 'demo-reviewer-wang', role: 'REVIEWER' });

  const upload = async (bytes: Buffer, kind: string, fileName: string) => {
    const { upload: u } = await call(member, 'mutation { requestAttachmentUpload { upload { uploadId url } userErrors { field code message } } }', {}, 'requestAttachmentUpload');
    const put = await fetch(`${origin}${u.url}`, { method: 'PUT', body: new Uint8Array(bytes) });
    if (put.status !== 201) throw new Error(`the member channel demo failed: upload answered ${put.status}`);
    return { uploadId: u.uploadId, kind, fileName };
  };

  // A stay elsewhere (异地就医) the platform's feed does not carry: 28,000.00 CNY borne by the member.
  const today = chinaToday();
  const personBurdenFen = 2_800_000;
  const fundsFen = 5_200_000;
  const stay = {
    hospitalCode: 'H11010500012', hospitalName: '北京协和医院', medicalType: '21',
    admittedOn: addDays(today, -12), dischargedOn: addDays(today, -3), diagnoses: ['K35.8'],
    amounts: {
      totalFeesFen: fundsFen + personBurdenFen, fullyOwnPayFen: 150_000, overLimitSelfPayFen: 0, fundsTotalFen: fundsFen,
      personBurdenFen, personalAccountFen: 0, cashPaidFen: personBurdenFen,
    },
  };
  const attachments = [
    await upload(await demoPdf('Settlement sheet (demo)'), 'SETTLEMENT_SHEET', 'settlement-sheet.pdf'),
    await upload(INVOICE_PNG, 'INVOICE', 'invoice.png'),
  ];
  const { application } = await call(member, `mutation($input: SubmitApplicationInput!) { submitApplication(input: $input) {
      application { id status channel round } userErrors { field code message } } }`, { input: { channel: 'ONLINE', stay, attachments } }, 'submitApplication');
  const lines = [`member channel: ${memberId} applied online for a stay elsewhere (${fenToCnyGrouped(personBurdenFen)} CNY borne) with 2 attachments: application ${application.id} ${application.status}`];

  await call(reviewerLi, `mutation($id: ID!, $round: Int!) { acceptApplication(input: { applicationId: $id, round: $round }) { application { status } userErrors { field code message } } }`,
    { id: application.id, round: application.round }, 'acceptApplication');
  const claim = await pollUntil(async () => {
    const data = await call(member, `query($id: ID!) { node(id: $id) { ... on Application { status settlement { claim { id status totalFen } } } } }`, { id: application.id });
    return data.node?.settlement?.claim ?? null;
  }, () => `the member channel demo failed: waited ${DEMO_WAIT_MS / 1000} s for the accepted application to be adjudicated`);
  lines.push(`  demo-reviewer-li accepted it; it became a settlement of its own source and was adjudicated: claim ${claim.id} ${claim.status} (${fenToCnyGrouped(claim.totalFen)} CNY)`);

  if (claim.status === 'PENDING_REVIEW') {
    await call(reviewerLi, `mutation($id: ID!) { rejectClaim(input: { claimId: $id, reason: "发票与结算单金额需核对 (invoice and settlement sheet to be checked)" }) { claim { status } userErrors { field code message } } }`,
      { id: claim.id }, 'rejectClaim');
    lines.push('  demo-reviewer-li rejected the claim: the invoice and the settlement sheet were to be checked');
  }
  const evidence = await upload(await demoPdf('Discharge summary (demo)'), 'APPEAL_EVIDENCE', 'discharge-summary.pdf');
  const { appeal } = await call(member, `mutation($input: FileAppealInput!) { fileAppeal(input: $input) { appeal { id status } userErrors { field code message } } }`,
    { input: { claimId: claim.id, reason: '已补交出院小结，请复核 (discharge summary added, please reconsider)', attachments: [evidence] } }, 'fileAppeal');
  const decision = claim.status === 'PENDING_REVIEW' ? 'UPHOLD' : 'DISMISS';
  // Upholding pays what the rules give now: the second reviewer checks that figure and names it.
  const preview = decision === 'UPHOLD'
    ? (await call(reviewerWang, `query($id: ID!) { node(id: $id) { ... on Appeal { upholdPreview { totalFen } } } }`, { id: appeal.id })).node.upholdPreview
    : null;
  const decided = await call(reviewerWang, `mutation($input: DecideAppealInput!) { decideAppeal(input: $input) {
      appeal { status claim { status totalFen } } userErrors { field code message } } }`,
    { input: { appealId: appeal.id, decision, reason: decision === 'UPHOLD' ? '出院小结与结算单一致，予以改判' : '原核定无误，维持', checkedTotalFen: preview?.totalFen } }, 'decideAppeal');
  lines.push(`  the member appealed with a discharge summary; demo-reviewer-wang (a second reviewer) decided ${decided.appeal.status}: ` +
    `the claim is ${decided.appeal.claim.status} (${fenToCnyGrouped(decided.appeal.claim.totalFen)} CNY)`);

  // Notices are issued by the workers' sweep; the demo asks for this member's at once.
  await call(adminToken, `mutation($id: ID!) { issueNotices(input: { memberId: $id }) { notices { id } userErrors { field code message } } }`, { id: memberId }, 'issueNotices');
  const notices = await call(member, '{ viewer { member { notices { number title kind downloadUrl { url } } } } }');
  const all = notices.viewer.member.notices as { number: string; title: string; kind: string; downloadUrl: { url: string } }[];
  const notice = all.find((n) => n.kind === 'APPEAL_DECIDED') ?? all.at(-1);
  if (!notice) throw new Error('the member channel demo failed: no notice was issued');
  const pdf = Buffer.from(await (await fetch(`${origin}${notice.downloadUrl.url}`)).arrayBuffer());
  await mkdir(NOTICE_DIR, { recursive: true });
  const noticePath = path.resolve(NOTICE_DIR, `notice-${notice.number}.pdf`);
  await writeFile(noticePath, pdf);
  lines.push(`  ${all.length} sealed notice(s) for the member; "${notice.title}" (${notice.number}), downloaded by the member, ` +
    `sha256 ${createHash('sha256').update(pdf).digest('hex').slice(0, 16)}…: ${noticePath} (check it: pdfsig ${noticePath})`);
  return { lines, noticePath };
}

/** A member enrolled last year and this year (no waiting period) whose unit's payment covers it. */
async function renewedCoveredMember(call: ApiCall, adminToken: string): Promise<string> {
  const year = Number(chinaToday().slice(0, 4));
  const data = await call(adminToken, `{ members(first: 100) { edges { node { id enrolments(first: 2) { edges { node { planYear contributionCovered } } } } } } }`);
  for (const { node } of data.members.edges as { node: { id: string; enrolments: { edges: { node: { planYear: number; contributionCovered: boolean } }[] } } }[]) {
    const years = node.enrolments.edges.map((e) => e.node);
    if (years.some((e) => e.planYear === year - 1) && years.some((e) => e.planYear === year && e.contributionCovered)) return node.id;
  }
  throw new Error('the member channel demo failed: no sample member is enrolled two years with this year paid');
}

async function demoPdf(title: string): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const page = doc.addPage([420, 300]);
  page.drawText(title, { x: 40, y: 240, size: 16, font: await doc.embedFont(StandardFonts.Helvetica) });
  return Buffer.from(await doc.save());
}
