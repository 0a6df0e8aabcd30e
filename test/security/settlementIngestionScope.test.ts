import { describe, expect, it } from 'vitest';
import { lazyTestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { seedEnrolledMember, seedSettlement } from '../benefits/seed.ts';
import { fujianTree, placeUnit } from '../organisations/support.ts';

/**
 * The hub's settlement ingestion (sources, runs, rejections) is refused to an organisation's staff
 * by its own queries (FORBIDDEN); looked up by ID instead — `node(id:)`, or a settlement of their
 * own subtree naming its source — it answers null, as a missing object does. Their IDs are
 * sequential, so anything less hands a county the hub's rejected records and upload counts.
 */
const started = lazyTestGateway();

let world: Promise<Awaited<ReturnType<typeof seed>>> | undefined;

/** A JJ member's settlement (source `test`), and an upload's run with one rejected record (source `upload`). */
async function seed() {
  const { db, gw } = await started();
  await fujianTree(gw);
  const member = await seedEnrolledMember(db.pool);
  await placeUnit(db.pool, member.unitId, 'JJ');
  const settlementGid = toGlobalId('Settlement', await seedSettlement(db.pool, member));
  const uploaded = await gw.query({ role: 'ADMIN' }, `mutation($content: String!) {
    uploadSettlements(input: { fileName: "bad.jsonl", content: $content }) { run { id rejected } userErrors { field message } } }`,
  { content: '{"setl_id": "S-BAD-1"}\n' });
  expect(uploaded.data?.uploadSettlements, JSON.stringify(uploaded)).toMatchObject({ run: { rejected: 1 }, userErrors: [] });
  const rejections = await gw.query({ role: 'ADMIN' }, '{ settlementRejections(first: 1, filter: { source: "upload" }) { edges { node { id } } } }');
  return {
    gw,
    settlementGid,
    runGid: uploaded.data.uploadSettlements.run.id as string,
    rejectionGid: rejections.data.settlementRejections.edges[0].node.id as string,
    sourceGid: toGlobalId('SettlementSource', 'upload'),
  };
}
const setUp = () => (world ??= seed());

const NODES = `query($rejection: ID!, $run: ID!, $source: ID!) {
  rejection: node(id: $rejection) { id ... on SettlementRejection { setlId fields { name value } settlementSource { name } } }
  run: node(id: $run) { id ... on SettlementIngestionRun { received rejected } }
  source: node(id: $source) { id ... on SettlementSource { name counts { openRejections } } } }`;
const SOURCE_OF_SETTLEMENT = 'query($id: ID!) { settlement(id: $id) { id settlementSource { id name } } }';

describe("the hub's settlement ingestion looked up by ID", () => {
  it("answers null to an organisation's ADMIN and AUDITOR: node(id:) of a rejection, a run and the upload source", async () => {
    const { gw, rejectionGid, runGid, sourceGid } = await setUp();
    const ids = { rejection: rejectionGid, run: runGid, source: sourceGid };
    for (const role of ['ADMIN', 'AUDITOR'] as const) {
      for (const org of ['JJ', 'FJ']) {
        const bound = await gw.query({ role, org }, NODES, ids);
        expect(bound, `${role} ${org}`).toEqual({ data: { rejection: null, run: null, source: null } });
      }
      // The hub's own staff still see all three.
      const hub = await gw.query({ role }, NODES, ids);
      expect(hub.errors, role).toBeUndefined();
      expect(hub.data, role).toMatchObject({
        rejection: { id: rejectionGid, setlId: 'S-BAD-1', settlementSource: { name: 'upload' } },
        run: { id: runGid, received: 1, rejected: 1 },
        source: { id: sourceGid, name: 'upload', counts: { openRejections: 1 } },
      });
    }
  });

  it("answers null for the source of a settlement an organisation's staff may read; the hub's staff see it", async () => {
    const { gw, settlementGid } = await setUp();
    for (const role of ['ADMIN', 'AUDITOR'] as const) {
      const bound = await gw.query({ role, org: 'JJ' }, SOURCE_OF_SETTLEMENT, { id: settlementGid });
      expect(bound, role).toEqual({ data: { settlement: { id: settlementGid, settlementSource: null } } });
      const hub = await gw.query({ role }, SOURCE_OF_SETTLEMENT, { id: settlementGid });
      expect(hub, role).toEqual({ data: { settlement: { id: settlementGid, settlementSource: { id: toGlobalId('SettlementSource', 'test'), name: 'test' } } } });
    }
  });
});
