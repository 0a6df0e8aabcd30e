import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildSchema } from 'graphql';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { seedEnrolledMember, seedEnrolment, seedMember } from '../benefits/seed.ts';
import { hubClient, HubError } from '../../examples/client.ts';
import { MembersPageQuery, ViewerQuery } from '../../examples/operations.ts';
import { loadTypeDefs } from '../../src/gateway/server.ts';
import { DASHBOARD_OPERATIONS } from '../../src/gateway/dashboard.ts';
import { productionEnv } from '../support/config.ts';

/**
 * What front-end teams get: the published SDL, the example operations typed by codegen's client
 * preset (compiled by `npm test`'s typecheck), and trusted documents: in production only the
 * operations in the manifest run.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const MANIFEST = `${root}examples/generated/persisted-documents.json`;
const PUBLISHED = 'schema/published/schema.graphql';
const PRODUCTION = productionEnv();

let db: TestDatabase;
let dev: TestGateway;
let prod: TestGateway;

beforeAll(async () => {
  db = await freshDatabase();
  const m = await seedEnrolledMember(db.pool);
  for (let i = 0; i < 4; i++) await seedEnrolment(db.pool, await seedMember(db.pool, m.unitId), m.unitId);
  dev = await startTestGateway(db);
  prod = await startTestGateway(db, { ...PRODUCTION, TRUSTED_DOCUMENTS: MANIFEST });
});
afterAll(async () => {
  await dev.close();
  await prod.close();
  await db.drop();
});

describe('the published schema', () => {
  // The SDL front-end teams build against is committed (schema/published/schema.graphql), so a change
  // to it shows in review as a diff of the contract, not only of the files it is merged from.
  it('is the committed schema/published/schema.graphql, subscriptions included', () => {
    const out = `${root}.data/artifacts/schema.graphql`;
    const run = spawnSync('npm', ['run', '--silent', 'schema:print', '--', out], { cwd: root, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const sdl = readFileSync(out, 'utf8');
    expect(sdl, `${PUBLISHED} is stale (schema/*.graphql changed): run npm run schema:print -- ${PUBLISHED} and commit it`)
      .toBe(readFileSync(`${root}${PUBLISHED}`, 'utf8'));
    expect(buildSchema(sdl).getSubscriptionType()?.getFields().claimStatusChanged).toBeDefined();
    expect(Object.keys(buildSchema(sdl).getTypeMap()).sort()).toEqual(Object.keys(buildSchema(loadTypeDefs()).getTypeMap()).sort());
  });
});

describe('the explorer', () => {
  it('serves GraphiQL and all its assets from the gateway (no CDN), outside production only', async () => {
    const origin = new URL(dev.url).origin;
    const page = await fetch(`${origin}/graphiql`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBe(5);
    for (const asset of assets) {
      expect(asset.startsWith('/graphiql/assets/'), asset).toBe(true);
      expect((await fetch(`${origin}${asset}`)).status, asset).toBe(200);
    }
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect((await fetch(`${new URL(prod.url).origin}/graphiql`)).status).toBe(404);
  });
});

describe('the example front-end (examples/)', () => {
  it('runs its typed operations against the gateway', async () => {
    const request = hubClient({ url: dev.url, token: await dev.token({ role: 'ADMIN' }) });
    const viewer = await request(ViewerQuery, {});
    expect(viewer.viewer.role).toBe('ADMIN');
    const page = await request(MembersPageQuery, { first: 3 });
    expect(page.members.totalCount).toBe(5);
    expect(page.members.edges).toHaveLength(3);
    // The generated types know the shape: a typo here would fail the typecheck, not only this test.
    expect(page.members.edges[0]!.node.enrolments.edges[0]!.node.planYear).toBe(2025);
    const next = await request(MembersPageQuery, { first: 3, after: page.members.pageInfo.endCursor });
    expect(next.members.edges).toHaveLength(2);
  });

  it('sends only document hashes in trusted mode, which is all production accepts', async () => {
    const request = hubClient({ url: prod.url, token: await prod.token({ role: 'ADMIN' }), trusted: true });
    expect((await request(MembersPageQuery, { first: 2 })).members.edges).toHaveLength(2);
    const untrusted = hubClient({ url: prod.url, token: await prod.token({ role: 'ADMIN' }) });
    // The printed text is not byte for byte the registered one: refused.
    await expect(untrusted(ViewerQuery, {})).rejects.toMatchObject({ code: 'PERSISTED_QUERY_NOT_FOUND' } satisfies Partial<HubError>);
  });
});

describe('trusted documents in production', () => {
  const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>;
  const viewerId = Object.keys(manifest).find((id) => manifest[id]!.startsWith('query Viewer'))!;
  const post = async (body: object, headers: Record<string, string> = {}) => {
    const response = await fetch(prod.url, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await prod.token({ role: 'ADMIN' })}`, ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() as { data?: any; errors?: { message: string; extensions: { code: string } }[] } }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('runs a registered operation by documentId, by Apollo\'s persistedQuery hash, by its exact text, and over GET', async () => {
    expect((await post({ documentId: viewerId })).body.data.viewer.role).toBe('ADMIN');
    expect((await post({ documentId: viewerId.replace('sha256:', '') })).body.data.viewer.role).toBe('ADMIN');
    expect((await post({ extensions: { persistedQuery: { version: 1, sha256Hash: viewerId.replace('sha256:', '') } } })).body.data.viewer.role).toBe('ADMIN');
    expect((await post({ query: manifest[viewerId] })).body.data.viewer.role).toBe('ADMIN');
    const get = await fetch(`${prod.url}?documentId=${encodeURIComponent(viewerId)}`, {
      headers: { authorization: `Bearer ${await prod.token({ role: 'ADMIN' })}`, 'apollo-require-preflight': 'true' },
    });
    expect((await get.json()).data.viewer.role).toBe('ADMIN');
  });

  it('runs the staff dashboard\'s own operations, which no manifest lists, and nothing else', async () => {
    expect(Object.values(manifest)).not.toContain(DASHBOARD_OPERATIONS.figures);
    const answer = await post({ query: DASHBOARD_OPERATIONS.figures, variables: { filter: { planYear: 2026 } } });
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data.figures.planYear).toBe(2026);
    const edited = await post({ query: `${DASHBOARD_OPERATIONS.figures} `, variables: { filter: { planYear: 2026 } } });
    expect(edited.body.errors![0]!.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('refuses any other document and unknown ids with PERSISTED_QUERY_NOT_FOUND', async () => {
    const free = await post({ query: '{ viewer { role } }' });
    expect(free.status).toBe(400);
    expect(free.body.errors![0]).toMatchObject({ message: expect.stringMatching(/only trusted documents run here/), extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
    const unknown = await post({ documentId: `sha256:${'0'.repeat(64)}` });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors![0]!.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('still accepts free queries outside production, with the manifest\'s ids as well', async () => {
    const devWithManifest = await startTestGateway(db, { TRUSTED_DOCUMENTS: MANIFEST });
    try {
      expect((await devWithManifest.query({ role: 'ADMIN' }, '{ viewer { subject } }')).data.viewer.subject).toBe('test-admin');
      const response = await fetch(devWithManifest.url, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await devWithManifest.token({ role: 'ADMIN' })}` },
        body: JSON.stringify({ documentId: viewerId }),
      });
      expect((await response.json()).data.viewer.role).toBe('ADMIN');
    } finally {
      await devWithManifest.close();
    }
  });
});
