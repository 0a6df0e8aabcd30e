import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { productionEnv } from '../support/config.ts';

/**
 * The queue dashboard's sign-in (/admin/queues/login) puts the ADMIN bearer token itself in a cookie.
 * In production the gateway speaks plain HTTP behind the TLS-terminating proxy, so the request never
 * looks secure to it: the cookie is refused to any plain-HTTP request there all the same (Secure),
 * and stays scoped to the dashboard's path. Outside production a sign-in over http://127.0.0.1 still works.
 */
const started: { db: TestDatabase; gw: TestGateway }[] = [];
afterAll(async () => {
  for (const { db, gw } of started) {
    await gw.close();
    await db.drop();
  }
});

async function signIn(env: Record<string, string>): Promise<string> {
  const db = await freshDatabase();
  const gw = await startTestGateway(db, env);
  started.push({ db, gw });
  const response = await fetch(gw.url.replace(/\/graphql$/, '/admin/queues/login'), {
    method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: await gw.token({ role: 'ADMIN' }) }),
  });
  expect(response.status).toBe(303);
  return response.headers.get('set-cookie') ?? '';
}

describe('the queue dashboard\'s sign-in cookie', () => {
  it('is Secure in production though the request came in over plain HTTP, HttpOnly, SameSite=Strict, for the dashboard\'s path only', async () => {
    const cookie = await signIn(productionEnv());
    expect(cookie).toMatch(/^hub_admin_token=[^;]+;/);
    expect(cookie.split(/;\s*/).slice(1).sort()).toEqual(['HttpOnly', 'Path=/admin/queues', 'SameSite=Strict', 'Secure']);
  });

  it('is not Secure outside production, where the dashboard is signed in to over http://127.0.0.1', async () => {
    const cookie = await signIn({});
    expect(cookie.split(/;\s*/).slice(1).sort()).toEqual(['HttpOnly', 'Path=/admin/queues', 'SameSite=Strict']);
  });
});
