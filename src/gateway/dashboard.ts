import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';

export const DASHBOARD_PATH = '/dashboard';

const packageDir = (name: string) => dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
/** Files the page loads, all from node_modules or this folder: the dashboard works offline (no CDN). */
const ASSETS: Record<string, string> = {
  'echarts.js': join(packageDir('echarts'), 'dist/echarts.min.js'),
  'dashboard.js': fileURLToPath(new URL('./dashboard/dashboard.js', import.meta.url)),
  'dashboard.css': fileURLToPath(new URL('./dashboard/dashboard.css', import.meta.url)),
};

const ROW = `key label units membersEnrolled enrolmentTarget completionRate claims claimsApprovedFen payouts paidFen
      previousYear { units membersEnrolled claims paidFen } yearOnYear { units membersEnrolled claims paid }`;

/**
 * The only operations the page runs, sent as these exact texts with the caller's token. Their
 * `sha256:` ids (`DASHBOARD_DOCUMENTS`) belong in the trusted-documents manifest wherever only
 * trusted documents run.
 */
export const DASHBOARD_OPERATIONS = {
  figures: `query DashboardFigures($filter: FiguresFilter!, $parentId: ID) {
  figures(filter: $filter) {
    organisationId organisationCode organisationName planYear
    totals { ${ROW} }
    byOrganisation: breakdown(by: ORGANISATION) { ${ROW} }
    byMonth: breakdown(by: MONTH) { key label claims claimsApprovedFen payouts paidFen }
    byProgramme: breakdown(by: PROGRAMME) { key label claims claimsApprovedFen paidFen }
    byCategory: breakdown(by: MEMBER_CATEGORY) { key label membersEnrolled claims claimsApprovedFen paidFen }
    turnaround { decided decisionMedianDays decisionP90Days paid paymentMedianDays paymentP90Days }
  }
  organisations(parentId: $parentId, first: 100) { edges { node { id code name } } }
}`,
  calendar: `query DashboardCalendar($filter: ReconciliationCalendarFilter!) {
  reconciliationCalendar(filter: $filter) {
    accounts
    days { date account statementPresent proven openExceptions age }
    openExceptions { days0To2 days3To7 days8To30 over30Days total }
  }
}`,
} as const;

/** The page's operations as a trusted-documents manifest (`{ "sha256:<hash>": "<document>" }`). */
export const DASHBOARD_DOCUMENTS: Record<string, string> = Object.fromEntries(
  Object.values(DASHBOARD_OPERATIONS).map((document) => [`sha256:${createHash('sha256').update(document).digest('hex')}`, document]),
);

const OPERATIONS_SCRIPT = `window.DASHBOARD_OPERATIONS = ${JSON.stringify(DASHBOARD_OPERATIONS)};\n`;

const PAGE = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>职工医疗互助 · 数据看板 Dashboard</title>
<link rel="stylesheet" href="${DASHBOARD_PATH}/assets/dashboard.css">
</head>
<body>
<header>
  <h1>职工医疗互助 · 数据看板 <span class="en">Dashboard</span></h1>
  <nav id="breadcrumb" aria-label="组织 Organisation"></nav>
  <label id="year-label" hidden>年度 Plan year <input id="year" type="number" min="2000" max="2100" step="1"></label>
  <button id="sign-out" type="button" hidden>退出 Sign out</button>
</header>
<section id="sign-in" hidden>
  <h2>请登录 Sign in</h2>
  <p>粘贴您的访问令牌（仅保存在本标签页）。Paste your access token (kept in this tab only, never stored on disk).</p>
  <form id="sign-in-form">
    <textarea id="token" rows="4" autocomplete="off" spellcheck="false" placeholder="eyJ…" required></textarea>
    <button type="submit">登录 Sign in</button>
  </form>
</section>
<p id="message" role="status" hidden></p>
<main id="dashboard" hidden>
  <section id="kpis" class="kpis"></section>
  <div class="grid">
    <figure><figcaption>各组织参保人数与目标完成率 Members enrolled vs target (click to drill down)</figcaption><div id="chart-organisations" class="chart"></div></figure>
    <figure><figcaption>同比 Year on year</figcaption><div id="chart-year-on-year" class="chart"></div></figure>
    <figure><figcaption>按月赔案人次与金额 Claims and amounts by month</figcaption><div id="chart-months" class="chart"></div></figure>
    <figure><figcaption>按项目 By programme (approved)</figcaption><div id="chart-programmes" class="chart"></div></figure>
    <figure><figcaption>按人群 By member category</figcaption><div id="chart-categories" class="chart"></div></figure>
    <figure><figcaption>办理时效（工作日） Turnaround (working days)</figcaption><div id="chart-turnaround" class="chart"></div></figure>
    <figure class="wide"><figcaption>对账日历：未结异常与未证实的日期 Reconciliation calendar: open exceptions and days not proven</figcaption><div id="chart-calendar" class="chart calendar"></div></figure>
  </div>
</main>
<script src="${DASHBOARD_PATH}/assets/echarts.js"></script>
<script src="${DASHBOARD_PATH}/assets/operations.js"></script>
<script src="${DASHBOARD_PATH}/assets/dashboard.js"></script>
</body>
</html>
`;

/**
 * The staff dashboard (数据看板), served in every environment: the page holds no data, it asks for
 * the caller's token and reads the figures through `/graphql` with it, so each person sees exactly
 * what the API lets them see.
 */
export function dashboard(): express.Router {
  const router = express.Router();
  // Only the hub's own scripts, styles and API; no inline script or style, no framing, no forms elsewhere.
  const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  const secure = (res: express.Response) => {
    res.setHeader('content-security-policy', csp);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
  };
  router.get('/', (_req, res) => {
    secure(res);
    res.setHeader('cache-control', 'no-store');
    res.type('html').send(PAGE);
  });
  router.get('/assets/operations.js', (_req, res) => {
    secure(res);
    res.type('js').send(OPERATIONS_SCRIPT);
  });
  router.get('/assets/:name', (req, res) => {
    // Own keys only: /assets/constructor must be a 404, not Object handed to sendFile.
    const file = Object.hasOwn(ASSETS, req.params.name) ? ASSETS[req.params.name] : undefined;
    secure(res);
    if (!file) res.status(404).end();
    else res.sendFile(file, { maxAge: '1d' });
  });
  return router;
}
