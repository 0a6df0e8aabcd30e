import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedClaims, type ApprovedClaim } from '../payouts/support.ts';
import { publishStatusChanges } from '../../src/events/statusEvents.ts';
import { waitFor } from '../support/waitFor.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';

/**
 * Sockets one client holds open. A socket holds at most SUBSCRIPTIONS_PER_SOCKET subscriptions, but
 * a member could open socket after socket with one token (the rate limit counts subscribe messages,
 * not what stays open): each lives until the token expires, and every subscription on it hears every
 * claim event of the hub. A client holds at most SOCKETS_PER_CLIENT sockets on one gateway; the next
 * is closed with 4429 naming the limit, and a socket closed gives its place back.
 */
const LIMIT = 3;
let db: TestDatabase;
let gw: TestGateway;
let attacker: ApprovedClaim & { unitId: number };
let other: ApprovedClaim & { unitId: number };

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { SOCKETS_PER_CLIENT: String(LIMIT) });
  const claims = await approvedClaims(db.pool, 2);
  const { rows } = await db.pool.query<{ id: number; unitId: number }>('SELECT id, unit_id AS "unitId" FROM members WHERE id = ANY($1::bigint[])', [claims.map((c) => c.memberId)]);
  [attacker, other] = claims.map((c) => ({ ...c, unitId: rows.find((r) => r.id === c.memberId)!.unitId })) as [typeof attacker, typeof attacker];
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const tokenOf = (claim: ApprovedClaim, sub: string) => gw.token({ role: 'MEMBER', member: toGlobalId('Member', claim.memberId), sub });

/** One socket with one subscription to the member's own claims: what it heard, and how the server closed it (if it did). */
function socket(token: string) {
  const heard: unknown[] = [];
  let closedWith: { code: number; reason: string } | null = null;
  const client: Client = createClient({
    url: gw.url.replace('http:', 'ws:'), webSocketImpl: WebSocket, retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
    on: { closed: (event) => { closedWith ??= { code: (event as { code: number }).code, reason: (event as { reason: string }).reason }; } },
  });
  client.subscribe({ query: 'subscription { claimStatusChanged { at } }' }, { next: (r) => void heard.push(r.data), error: () => undefined, complete: () => undefined });
  return { client, heard, closed: () => closedWith };
}

let n = 0;
/** Announces a change of `claim` until each of `sockets` heard one more event or was closed. */
async function announceUntilAnswered(claim: ApprovedClaim & { unitId: number }, sockets: ReturnType<typeof socket>[]) {
  const before = sockets.map((s) => s.heard.length);
  await waitFor('each socket to hear the change or be closed', async () => {
    await publishStatusChanges(gw.redis, gw.prefix, [
      { kind: 'CLAIM', id: claim.claimId, memberId: claim.memberId, unitId: claim.unitId, status: 'APPROVED', at: new Date(Date.UTC(2030, 0, 1, 0, 0, n++)).toISOString() },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    return sockets.every((s, i) => s.heard.length > before[i]! || s.closed() !== null);
  }, 10_000);
}

describe('sockets of one client', () => {
  it('are at most SOCKETS_PER_CLIENT at once: the next is closed with 4429 naming the limit, and hears nothing', async () => {
    const token = await tokenOf(attacker, 'attacker');
    const sockets: ReturnType<typeof socket>[] = [];
    try {
      // One at a time, so which ones are over the limit is known.
      for (let i = 0; i < LIMIT + 2; i++) {
        const s = socket(token);
        sockets.push(s);
        await announceUntilAnswered(attacker, [s]);
      }
      expect(sockets.slice(0, LIMIT).map((s) => s.closed())).toEqual(Array(LIMIT).fill(null));
      for (const s of sockets.slice(LIMIT)) {
        expect(s.closed()).toEqual({ code: 4429, reason: `at most ${LIMIT} sockets per client at once (SOCKETS_PER_CLIENT)` });
        expect(s.heard).toEqual([]);
      }

      // Another client is not held to the attacker's count.
      const bystander = socket(await tokenOf(other, 'bystander'));
      sockets.push(bystander);
      await announceUntilAnswered(other, [bystander]);
      expect(bystander.closed()).toBeNull();
      expect(bystander.heard).toHaveLength(1);

      // A socket the client closes gives its place back; the one after it is over again.
      await sockets[0]!.client.dispose();
      await waitFor('the server to see the socket closed', async () => {
        const probe = socket(token);
        await announceUntilAnswered(attacker, [probe]);
        if (probe.closed() === null) {
          sockets.push(probe);
          return true;
        }
        await probe.client.dispose();
        return false;
      }, 10_000);
      const over = socket(token);
      sockets.push(over);
      await announceUntilAnswered(attacker, [over]);
      expect(over.closed()?.code).toBe(4429);
    } finally {
      await Promise.all(sockets.map((s) => s.client.dispose()));
    }
  });
});
