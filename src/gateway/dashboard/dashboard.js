// The staff dashboard (数据看板) on /dashboard. It holds no data: it reads the figures through
// /graphql with the token the person pastes (kept in sessionStorage, this tab only; a #token=…
// fragment, never sent to the server, is taken and removed from the address bar as the explorer does).
// Everything it shows is text from the API put in with textContent or drawn by ECharts on canvas,
// tooltips included (renderMode richText: no HTML, and no inline style the CSP would refuse).
(function () {
  'use strict';
  const TOKEN_KEY = 'hub-dashboard-token';
  const OPS = window.DASHBOARD_OPERATIONS;
  const $ = (id) => document.getElementById(id);
  const charts = {};
  const chartIds = ['organisations', 'year-on-year', 'months', 'programmes', 'categories', 'turnaround', 'calendar'];

  const chinaNow = () => new Date(Date.now() + 8 * 3600 * 1000);
  const chinaToday = () => chinaNow().toISOString().slice(0, 10);
  const addDays = (date, days) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86400000).toISOString().slice(0, 10);
  const yuan = (fen) => (fen == null ? null : fen / 100);
  const cny = (fen) => (fen == null ? '—' : `¥${(fen / 100).toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
  const percent = (ratio) => (ratio == null ? '—' : `${(ratio * 100).toFixed(1)}%`);
  const count = (n) => (n == null ? '—' : n.toLocaleString('zh-CN'));

  const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromFragment) {
    sessionStorage.setItem(TOKEN_KEY, fromFragment);
    history.replaceState(null, '', location.pathname + location.search);
  }

  const state = { year: Number(chinaToday().slice(0, 4)), path: [{ id: null, code: null, name: '全部 All' }] };

  function setStatus(status) {
    document.body.dataset.state = status;
  }

  function message(text) {
    $('message').textContent = text;
    $('message').hidden = !text;
  }

  function signedOut(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    for (const id of chartIds) charts[id]?.clear();
    $('dashboard').hidden = true;
    $('sign-out').hidden = true;
    $('year-label').hidden = true;
    $('breadcrumb').replaceChildren();
    $('sign-in').hidden = false;
    message(reason || '');
    setStatus('signed-out');
  }

  class ApiError extends Error {
    constructor(code, text) {
      super(text);
      this.code = code;
    }
  }

  async function gql(query, variables) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json().catch(() => ({}));
    const error = body.errors && body.errors[0];
    if (error) throw new ApiError((error.extensions && error.extensions.code) || String(response.status), error.message);
    if (!response.ok) throw new ApiError(String(response.status), response.statusText);
    return body.data;
  }

  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init($(`chart-${id}`), null, { renderer: 'canvas' });
    return charts[id];
  }

  function renderBreadcrumb() {
    const nav = $('breadcrumb');
    nav.replaceChildren();
    state.path.forEach((crumb, i) => {
      if (i > 0) nav.append(' › ');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = crumb.name;
      button.dataset.code = crumb.code || '';
      button.disabled = i === state.path.length - 1;
      button.addEventListener('click', () => {
        state.path = state.path.slice(0, i + 1);
        load();
      });
      nav.append(button);
    });
  }

  function renderKpis(totals) {
    const tiles = [
      ['参保人数 Members', count(totals.membersEnrolled), totals.enrolmentTarget == null ? '' : `目标 target ${count(totals.enrolmentTarget)}`],
      ['完成率 Completion', percent(totals.completionRate), ''],
      ['参保单位 Units', count(totals.units), `同比 YoY ${percent(totals.yearOnYear.units)}`],
      ['赔案人次 Claims', count(totals.claims), `同比 YoY ${percent(totals.yearOnYear.claims)}`],
      ['批准金额 Approved', cny(totals.claimsApprovedFen), ''],
      ['支付金额 Paid', cny(totals.paidFen), `同比 YoY ${percent(totals.yearOnYear.paid)}`],
    ];
    $('kpis').replaceChildren(...tiles.map(([label, value, note]) => {
      const tile = document.createElement('div');
      tile.className = 'kpi';
      const l = document.createElement('span');
      l.className = 'label';
      l.textContent = label;
      const v = document.createElement('strong');
      v.textContent = value;
      const n = document.createElement('span');
      n.className = 'note';
      n.textContent = note;
      tile.append(l, v, n);
      return tile;
    }));
  }

  const TOOLTIP = { confine: true, renderMode: 'richText' };
  const base = { animation: false, tooltip: { ...TOOLTIP, trigger: 'axis' }, legend: { top: 0 }, grid: { left: 56, right: 56, top: 56, bottom: 48, containLabel: true } };

  function renderOrganisations(rows, idByCode) {
    const c = chart('organisations');
    c.off('click');
    c.setOption({
      ...base,
      xAxis: { type: 'category', data: rows.map((r) => r.label), axisLabel: { interval: 0, rotate: rows.length > 6 ? 30 : 0 } },
      yAxis: [{ type: 'value', name: '人 members' }, { type: 'value', name: '完成率', axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } }],
      series: [
        { name: '参保人数 Enrolled', type: 'bar', data: rows.map((r) => ({ value: r.membersEnrolled ?? 0, code: r.key })), cursor: 'pointer' },
        { name: '目标 Target', type: 'bar', data: rows.map((r) => ({ value: r.enrolmentTarget, code: r.key })), cursor: 'pointer' },
        { name: '完成率 Completion', type: 'line', yAxisIndex: 1, data: rows.map((r) => r.completionRate), tooltip: { valueFormatter: percent } },
      ],
    }, true);
    c.on('click', (event) => {
      const code = event.data && event.data.code;
      if (!code || !idByCode.has(code)) return; // '-': the units directly under this organisation
      const row = rows.find((r) => r.key === code);
      state.path.push({ id: idByCode.get(code), code, name: row ? row.label : code });
      load();
    });
  }

  function renderYearOnYear(totals) {
    const items = [
      ['单位 Units', totals.units, totals.previousYear.units, totals.yearOnYear.units],
      ['参保人数 Members', totals.membersEnrolled, totals.previousYear.membersEnrolled, totals.yearOnYear.membersEnrolled],
      ['赔案人次 Claims', totals.claims, totals.previousYear.claims, totals.yearOnYear.claims],
      ['支付金额 Paid (¥)', yuan(totals.paidFen), yuan(totals.previousYear.paidFen), totals.yearOnYear.paid],
    ];
    chart('year-on-year').setOption({
      ...base,
      xAxis: { type: 'category', data: items.map((i) => i[0]) },
      yAxis: { type: 'value', axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } },
      series: [{
        name: '同比 Year on year', type: 'bar', data: items.map((i) => i[3]),
        label: { show: true, position: 'top', formatter: (p) => (p.value == null ? '—' : percent(p.value)) },
        tooltip: { valueFormatter: percent },
      }],
    }, true);
  }

  function renderMonths(rows) {
    chart('months').setOption({
      ...base,
      xAxis: { type: 'category', data: rows.map((r) => r.label) },
      yAxis: [{ type: 'value', name: '人次 claims' }, { type: 'value', name: '元 CNY' }],
      series: [
        { name: '赔案人次 Claims', type: 'line', data: rows.map((r) => r.claims) },
        { name: '批准金额 Approved (¥)', type: 'line', yAxisIndex: 1, data: rows.map((r) => yuan(r.claimsApprovedFen)) },
        { name: '支付金额 Paid (¥)', type: 'line', yAxisIndex: 1, data: rows.map((r) => yuan(r.paidFen)) },
      ],
    }, true);
  }

  function renderProgrammes(rows) {
    chart('programmes').setOption({
      animation: false,
      tooltip: { ...TOOLTIP, trigger: 'item' },
      legend: { bottom: 0 },
      series: [{
        name: '批准金额 Approved (¥)', type: 'pie', radius: ['35%', '65%'],
        data: rows.map((r) => ({ name: r.label, value: yuan(r.claimsApprovedFen), claims: r.claims })),
        label: { formatter: '{b}\n{d}%' },
      }],
    }, true);
  }

  function renderCategories(rows) {
    chart('categories').setOption({
      ...base,
      xAxis: { type: 'category', data: rows.map((r) => r.label), axisLabel: { interval: 0, rotate: rows.length > 4 ? 20 : 0 } },
      yAxis: { type: 'value' },
      series: [
        { name: '参保人数 Enrolled', type: 'bar', data: rows.map((r) => r.membersEnrolled ?? 0) },
        { name: '赔案人次 Claims', type: 'bar', data: rows.map((r) => r.claims) },
      ],
    }, true);
  }

  function renderTurnaround(t) {
    chart('turnaround').setOption({
      ...base,
      xAxis: { type: 'category', data: [`审核 Decision (${t.decided})`, `支付 Payment (${t.paid})`] },
      yAxis: { type: 'value', name: '工作日 days' },
      series: [
        { name: '中位数 Median', type: 'bar', data: [t.decisionMedianDays, t.paymentMedianDays] },
        { name: 'P90', type: 'bar', data: [t.decisionP90Days, t.paymentP90Days] },
      ],
    }, true);
  }

  const AGE_TEXT = { DAYS_0_TO_2: '0–2 天', DAYS_3_TO_7: '3–7 天', DAYS_8_TO_30: '8–30 天', OVER_30_DAYS: '30 天以上' };

  function renderCalendar(calendar, from, to) {
    // One cell per day: the open exceptions of every account shown that day; a day with a proof
    // that does not hold is marked, as is a weekday without any statement.
    const byDate = new Map();
    for (const d of calendar.days) {
      const day = byDate.get(d.date) || { open: 0, unproven: [], missing: [], oldest: null };
      day.open += d.openExceptions;
      if (d.proven === false) day.unproven.push(d.account);
      if (!d.statementPresent) day.missing.push(d.account);
      if (d.age && (!day.oldest || Object.keys(AGE_TEXT).indexOf(d.age) > Object.keys(AGE_TEXT).indexOf(day.oldest))) day.oldest = d.age;
      byDate.set(d.date, day);
    }
    const dates = [...byDate.keys()].sort();
    const weekday = (date) => new Date(`${date}T00:00:00Z`).getUTCDay() % 6 !== 0;
    const a = calendar.openExceptions;
    chart('calendar').setOption({
      animation: false,
      tooltip: {
        ...TOOLTIP,
        formatter: (p) => {
          const day = byDate.get(p.data[0]);
          if (!day) return p.data[0];
          const lines = [p.data[0], `未结异常 open exceptions: ${day.open}`];
          if (day.oldest) lines.push(`账龄 age: ${AGE_TEXT[day.oldest]}`);
          if (day.unproven.length) lines.push(`未证实 not proven: ${day.unproven.join(', ')}`);
          if (day.missing.length) lines.push(`无对账单 no statement: ${day.missing.join(', ')}`);
          return lines.join('\n');
        },
      },
      title: {
        text: `未结异常 Open: ${a.total}（0–2天 ${a.days0To2} · 3–7天 ${a.days3To7} · 8–30天 ${a.days8To30} · 30天以上 ${a.over30Days}）  账户 Accounts: ${calendar.accounts.length}`,
        left: 'center', top: 0, textStyle: { fontSize: 13, fontWeight: 'normal' },
      },
      visualMap: {
        type: 'piecewise', seriesIndex: 0, orient: 'horizontal', left: 'center', bottom: 0,
        pieces: [{ value: 0, label: '无 none', color: '#d7f0dd' }, { min: 1, max: 2, label: '1–2', color: '#fde68a' }, { min: 3, max: 9, label: '3–9', color: '#f59e0b' }, { min: 10, label: '≥10', color: '#b91c1c' }],
      },
      calendar: { range: [from, to], top: 56, left: 40, right: 24, cellSize: ['auto', 18], dayLabel: { nameMap: 'ZH', firstDay: 1 }, monthLabel: { nameMap: 'ZH' }, yearLabel: { show: false } },
      series: [
        { name: '未结异常 Open exceptions', type: 'heatmap', coordinateSystem: 'calendar', data: dates.map((d) => [d, byDate.get(d).open]) },
        { name: '未证实 Not proven', type: 'scatter', coordinateSystem: 'calendar', symbol: 'diamond', symbolSize: 9, itemStyle: { color: '#7f1d1d' },
          data: dates.filter((d) => byDate.get(d).unproven.length).map((d) => [d, byDate.get(d).unproven.length]) },
        { name: '无对账单 No statement', type: 'scatter', coordinateSystem: 'calendar', symbol: 'circle', symbolSize: 5, itemStyle: { color: '#6b7280' },
          data: dates.filter((d) => weekday(d) && byDate.get(d).missing.length === calendar.accounts.length && calendar.accounts.length).map((d) => [d, 0]) },
      ],
    }, true);
  }

  function calendarUnavailable(text) {
    const c = chart('calendar');
    c.clear();
    c.setOption({ title: { text, left: 'center', top: 'middle', textStyle: { fontSize: 14, fontWeight: 'normal', color: '#6b7280' } } });
  }

  let loading = 0;
  async function load() {
    const mine = ++loading;
    setStatus('loading');
    message('加载中… Loading…');
    $('sign-in').hidden = true;
    $('sign-out').hidden = false;
    $('year-label').hidden = false;
    $('year').value = String(state.year);
    renderBreadcrumb();
    const here = state.path[state.path.length - 1];
    const to = chinaToday();
    const from = addDays(to, -181);
    try {
      const [figuresAnswer, calendarAnswer] = await Promise.allSettled([
        gql(OPS.figures, { filter: { planYear: state.year, organisationId: here.id }, parentId: here.id }),
        gql(OPS.calendar, { filter: { from, to } }),
      ]);
      if (mine !== loading) return;
      if (figuresAnswer.status === 'rejected') throw figuresAnswer.reason;
      const { figures, organisations } = figuresAnswer.value;
      if (state.path.length === 1) state.path[0] = { id: null, code: figures.organisationCode, name: figures.organisationName };
      renderBreadcrumb();
      const idByCode = new Map(organisations.edges.map((e) => [e.node.code, e.node.id]));
      $('dashboard').hidden = false;
      renderKpis(figures.totals);
      renderOrganisations(figures.byOrganisation, idByCode);
      renderYearOnYear(figures.totals);
      renderMonths(figures.byMonth);
      renderProgrammes(figures.byProgramme);
      renderCategories(figures.byCategory);
      renderTurnaround(figures.turnaround);
      if (calendarAnswer.status === 'fulfilled') renderCalendar(calendarAnswer.value.reconciliationCalendar, from, to);
      else if (calendarAnswer.reason instanceof ApiError && calendarAnswer.reason.code === 'FORBIDDEN') calendarUnavailable('对账日历仅限财务、审计和管理员 The calendar is for FINANCE, AUDITOR and ADMIN');
      else calendarUnavailable('对账日历暂不可用 The calendar could not be read');
      document.body.dataset.organisation = figures.organisationCode;
      message('');
      setStatus('ready');
    } catch (error) {
      if (mine !== loading) return;
      if (error instanceof ApiError && (error.code === 'UNAUTHENTICATED' || error.code === '401')) {
        signedOut('令牌无效或已过期，请重新登录。The token is invalid or expired: sign in again.');
        return;
      }
      $('dashboard').hidden = true;
      message(error instanceof ApiError && error.code === 'FORBIDDEN'
        ? '您的角色无权查看数据。Your role may not read the figures.'
        : `无法读取数据 Could not read the figures: ${error.message}`);
      setStatus('error');
    }
  }

  $('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token').value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token').value = '';
    state.path = state.path.slice(0, 1);
    load();
  });
  $('sign-out').addEventListener('click', () => signedOut(''));
  $('year').addEventListener('change', () => {
    const year = Number($('year').value);
    if (Number.isInteger(year) && year >= 2000 && year <= 2100) {
      state.year = year;
      load();
    }
  });
  window.addEventListener('resize', () => { for (const id of chartIds) charts[id]?.resize(); });

  if (sessionStorage.getItem(TOKEN_KEY)) load();
  else signedOut('');
})();
