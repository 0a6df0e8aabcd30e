import type pg from 'pg';
import { expect } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { seedEnrolledMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { upholdFigures } from '../../src/benefits/redecide.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';

/** Files of the three accepted types, as their first bytes make them (file-type reads no further), padded to `size`. */
const padded = (head: Buffer, size: number) => Buffer.concat([head, Buffer.alloc(Math.max(0, size - head.length), 0x20)]);
export const png = (size = 200) => padded(Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'), size);
export const jpeg = (size = 200) => padded(Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), size);
export const pdf = (size = 200) => padded(Buffer.from('%PDF-1.4\n1 0 obj\n<<>>\nendobj\n'), size);

/** An upload id for `bytes`, PUT to the attachment upload URL `who` was given. */
export async function uploadAttachment(gw: TestGateway, who: Parameters<TestGateway['query']>[0], bytes: Buffer): Promise<string> {
  const answer = await gw.query(who, 'mutation { requestAttachmentUpload { upload { uploadId url maxBytes } userErrors { message } } }');
  const upload = answer.data?.requestAttachmentUpload?.upload;
  expect(upload, JSON.stringify(answer)).toBeTruthy();
  const response = await fetch(new URL(gw.url).origin + upload.url, { method: 'PUT', body: new Uint8Array(bytes) });
  expect(response.status).toBe(201);
  return upload.uploadId;
}

export const memberToken = (m: MemberSetup) => ({ role: 'MEMBER' as const, sub: `member-${m.memberId}`, member: toGlobalId('Member', m.memberId) });

/** Above the automatic-approval limit used here, so the claim waits for a reviewer. */
const AUTO_APPROVE_MAX_FEN = 1_000_000;

/**
 * A member with one claim: REJECTED by `reviewer` (through the API), INELIGIBLE (the unit has not
 * paid), APPROVED automatically, or PENDING_REVIEW (above the automatic-approval limit, not decided). Returns the member and the claim's ids.
 */
export async function decidedClaim(
  db: pg.Pool, gw: TestGateway, status: 'REJECTED' | 'INELIGIBLE' | 'APPROVED' | 'PENDING_REVIEW', reviewer = 'reviewer-a',
): Promise<{ member: MemberSetup; claimId: number; claimGid: string }> {
  const member = await seedEnrolledMember(db, { paid: status !== 'INELIGIBLE' });
  const settlementId = await seedSettlement(db, member, { psn: status === 'APPROVED' ? '5,000.00' : '20,000.00' });
  const [outcome] = await adjudicateSettlements(db, [settlementId], { autoApproveMaxFen: AUTO_APPROVE_MAX_FEN });
  const claimGid = toGlobalId('Claim', outcome!.claimId);
  if (status === 'REJECTED') {
    expect(outcome!.status).toBe('PENDING_REVIEW');
    const rejected = await gw.query({ role: 'REVIEWER', sub: reviewer }, 'mutation($id: ID!) { rejectClaim(input: { claimId: $id, reason: "no discharge summary" }) { claim { status } userErrors { message } } }', { id: claimGid });
    expect(rejected.data?.rejectClaim.claim?.status, JSON.stringify(rejected)).toBe('REJECTED');
  } else {
    expect(outcome!.status).toBe(status);
  }
  return { member, claimId: outcome!.claimId, claimGid };
}

export const FILE_APPEAL = `mutation($input: FileAppealInput!) { fileAppeal(input: $input) {
  appeal { id status reason claimStatusWhenFiled filedBy { subject role } attachments { id kind contentType sizeBytes fileName downloadUrl { url } } }
  userErrors { field code message } } }`;

export const DECIDE_APPEAL = `mutation($input: DecideAppealInput!) { decideAppeal(input: $input) {
  appeal { id status decisionReason decider { subject } claim { id status } }
  userErrors { field code message } } }`;

export const UPHOLD_PREVIEW = `query($id: ID!) { node(id: $id) { ... on Appeal { upholdPreview {
  totalFen lines { programme amountFen } } } } }`;

/**
 * What `who` reads upholding the appeal would pay (`Appeal.upholdPreview.totalFen`), the figure a
 * reviewer checks and sends to uphold; null where it shows none (upholding is refused anyway).
 */
export async function upholdPreviewTotal(gw: TestGateway, who: Parameters<TestGateway['query']>[0], appealGid: string): Promise<number | null> {
  const answer = await gw.query(who, UPHOLD_PREVIEW, { id: appealGid });
  expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
  return answer.data.node?.upholdPreview?.totalFen ?? null;
}

/** The same figure read through the service (`upholdFigures`), for tests that decide appeals without the API; null as above. */
export async function upholdTotal(db: pg.Pool, claimId: number, ruleSets = new RuleSetCache()): Promise<number | null> {
  return (await upholdFigures(db, claimId, ruleSets))?.totalFen ?? null;
}
