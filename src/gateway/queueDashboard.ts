import express from 'express';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Authenticate } from './auth.ts';
import type { Principal } from './auth.ts';
import { isHubStaff } from './context.ts';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';
const COOKIE = 'hub_admin_token';
const REFUSED = "the queue dashboard is for the hub's own ADMIN only (not an organisation's)";

/** The queues are the whole hub's work: an ADMIN bound to an organisation does not manage them. */
const mayManageQueues = (principal: Principal) => principal.role === 'ADMIN' && isHubStaff(principal);

/**
 * Bull Board, for ADMIN only. Its page calls its own API without our bearer header, so the token
 * travels in an HttpOnly, SameSite=Strict cookie set by the small login form at
 * `/admin/queues/login` (or in `Authorization: Bearer` for scripts); in production the cookie is
 * Secure. Refusals: 401 without a valid token, 403 for any other role and for an organisation's ADMIN.
 */
export function queueDashboard(queues: readonly Queue[], authenticate: Authenticate, production: boolean): express.Router {
  const board = new ExpressAdapter().setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter: board, options: { uiConfig: { boardTitle: 'Mutual Aid Hub queues' } } });

  const router = express.Router();
  router.get('/login', (_req, res) => {
    res.type('html').send(`<!doctype html><meta charset="utf-8"><title>Queues — sign in</title>
<form method="post" action="${QUEUE_DASHBOARD_PATH}/login" style="font-family:sans-serif;max-width:40em;margin:4em auto">
<p>An ADMIN bearer token (<code>hub token --role ADMIN</code>):</p>
<p><textarea name="token" rows="6" cols="80" required></textarea></p><p><button>Open the queue dashboard</button></p></form>`);
  });
  router.post('/login', express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    const token = String((req.body as { token?: unknown }).token ?? '').trim();
    const principal = await authenticate(`Bearer ${token}`).catch(() => null);
    if (!principal || !mayManageQueues(principal)) {
      res.status(principal ? 403 : 401).type('text').send(principal ? REFUSED : 'invalid token');
      return;
    }
    // Behind the TLS-terminating proxy the request is plain HTTP (req.secure false): production's cookie is Secure regardless.
    res.cookie(COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: production || req.secure, path: QUEUE_DASHBOARD_PATH });
    res.redirect(303, QUEUE_DASHBOARD_PATH);
  });
  router.use(async (req, res, next) => {
    const cookie = /(?:^|;\s*)hub_admin_token=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const authorization = req.headers.authorization ?? (cookie ? `Bearer ${decodeURIComponent(cookie)}` : undefined);
    if (!authorization) {
      if (req.accepts('html')) res.redirect(303, `${QUEUE_DASHBOARD_PATH}/login`);
      else res.status(401).type('text').send('send an ADMIN bearer token');
      return;
    }
    const principal = await authenticate(authorization).catch(() => null);
    if (!principal) res.status(401).type('text').send('invalid token');
    else if (!mayManageQueues(principal)) res.status(403).type('text').send(REFUSED);
    else next();
  });
  router.use(board.getRouter() as express.Router);
  return router;
}
