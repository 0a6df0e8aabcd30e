import { describe, expect, it } from 'vitest';
import { lazyTestGateway } from '../support/gateway.ts';
import { fujianTree } from '../organisations/support.ts';

/**
 * Upload URLs for the hub's own work handed to an organisation's staff: a settlements file and a
 * bank statement are taken only from the hub's staff (uploadSettlements, uploadBankStatement refuse
 * a token bound to an organisation), yet `requestUpload` gave such a token a URL for them, and the
 * bytes PUT there were kept on the gateway's disk for an hour, each URL up to FILE_UPLOAD_MAX_BYTES,
 * for a mutation that would never take them.
 */
const started = lazyTestGateway();

const REQUEST = 'mutation($p: UploadPurpose!) { requestUpload(input: { purpose: $p }) { upload { uploadId url } userErrors { message } } }';

describe('upload URLs for the hub\'s own work', () => {
  it('are refused to staff bound to an organisation (FORBIDDEN), as the mutations that take them are', async () => {
    const { gw } = await started();
    await fujianTree(gw);
    const refused = [
      [{ role: 'ADMIN', org: 'QZ' }, 'SETTLEMENTS'],
      [{ role: 'ADMIN', org: 'QZ' }, 'BANK_STATEMENT'],
      [{ role: 'FINANCE', org: 'JJ' }, 'BANK_STATEMENT'],
    ] as const;
    for (const [who, purpose] of refused) {
      const answer = await gw.query(who, REQUEST, { p: purpose });
      expect(answer.errors?.[0]?.extensions?.code, `${who.role}@${who.org} ${purpose}`).toBe('FORBIDDEN');
      expect(answer.data?.requestUpload ?? null).toBeNull();
    }
  });

  it('are still given to the hub\'s own staff, and a roster upload to an organisation\'s ADMIN', async () => {
    const { gw } = await started();
    const given = [
      [{ role: 'ADMIN' }, 'SETTLEMENTS'],
      [{ role: 'FINANCE' }, 'BANK_STATEMENT'],
      [{ role: 'ADMIN', org: 'QZ' }, 'ROSTER_IMPORT'],
    ] as const;
    for (const [who, purpose] of given) {
      const answer = await gw.query(who, REQUEST, { p: purpose });
      expect(answer.errors, `${who.role} ${purpose}`).toBeUndefined();
      expect(answer.data.requestUpload.upload.uploadId).toMatch(/^[0-9a-f]{32}$/);
    }
  });
});
