import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../src/config.ts';
import { signDevelopmentToken } from '../../src/gateway/auth.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import type { SampleMember } from '../../src/demo/sampleData.ts';
import { figuresQuery, yearlyReport } from '../../src/figures/service.ts';
import { reportFile } from '../../src/figures/report.ts';
import { reportSettings } from '../../src/figures/settings.ts';
import { organisationByCode } from '../../src/organisations/store.ts';
import { apiCaller } from './api.ts';
import type { Actor } from '../../src/audit/audit.ts';
import { UNSCOPED, type Scope } from '../../src/kernel/scope.ts';
import { fenToCnyGrouped } from '../../src/kernel/money.ts';
import type { Runtime } from '../../src/runtime.ts';
import { confirmUnitMove, createOrganisation, proposeUnitMove } from '../../src/organisations/service.ts';
import { unitsByCreditCodes } from '../../src/members/store.ts';
import type { SampleUnit } from '../../src/demo/sampleData.ts';
import { addFunder } from '../../src/payouts/funders.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { approveRuleSetProposal, proposalWhatIf, proposeRuleSet, proposeRuleSetAssignment } from '../../src/benefits/ruleSetProposals.ts';

/**
 * The union as it is organised: the province (FJ), the city (QZ) and a county (JJ) below it, the
 * sample units in the city and Jinjiang's in the county; the province's own fund with its account
 * (its critical-illness subsidy is paid from there); and this year's rule sets — the city's and
 * Jinjiang's own — published and assigned through four eyes, each checked first by a what-if over
 * last year's claims. Done before the settlements arrive, so this year's claims are decided by them.
 */

/** The province's fund: its payouts leave from this account, and its statements are reconciled against it. */
export const DEMO_PROVINCE_ACCOUNT = '6222000000351000';

/** The demo's two ADMINs: what takes four eyes (a unit's terms, its move, a rule set) one proposes, the other confirms. */
export const proposer: Actor = { subject: 'demo-admin', role: 'ADMIN' };
export const approver: Actor = { subject: 'demo-admin-2', role: 'ADMIN' };
/** Where an organisation's own ADMINs work: their rule sets govern only where assigned within it. */
const staffOf = (organisationId: number): Scope => ({ unitId: null, memberId: null, organisationId });

const example = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../src/benefits/ruleSets/examples/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;

export interface DemoProgrammes {
  lines: string[];
  /** A unit of the city (its rule set pays condolences), for the condolence step. */
  cityUnit: { id: number; creditCode: string; name: string };
}

export async function setUpProgrammes(runtime: Runtime, units: readonly SampleUnit[], thisYear: number): Promise<DemoProgrammes> {
  const { db } = runtime;
  const province = await createOrganisation(db, proposer, UNSCOPED, { code: 'FJ', name: '福建省总工会', level: 'PROVINCE', parentId: null });
  const city = await createOrganisation(db, proposer, UNSCOPED, { code: 'QZ', name: '泉州市总工会', level: 'CITY', parentId: province.id });
  const county = await createOrganisation(db, proposer, UNSCOPED, { code: 'JJ', name: '晋江市总工会', level: 'COUNTY', parentId: city.id });
  // The registry's units, registered under the union, moved to their city or county as any move
  // is: proposed by one ADMIN, confirmed by another (the database refuses a move made otherwise).
  const rows = await unitsByCreditCodes(db, units.map((u) => u.creditCode));
  const inJinjiang = rows.filter((u) => u.name.startsWith('晋江')).length;
  for (const u of rows) {
    const to = u.name.startsWith('晋江') ? county : city;
    const move = await proposeUnitMove(db, proposer, UNSCOPED, { unitId: u.id, organisationId: to.id, reason: `demo: the registry's units placed in ${to.name}` });
    await confirmUnitMove(db, approver, UNSCOPED, u.id, move.proposedAt);
  }
  await addFunder(db, proposer, {
    code: 'FJ', name: '福建省总工会职工大病补助资金', organisationCode: 'FJ',
    account: DEMO_PROVINCE_ACCOUNT, accountName: '福建省总工会', agent: '102391000013',
  }, runtime.config.PAYOUT_ACCOUNT);

  const cache = new RuleSetCache();
  const lines = [`organisations: 福建省总工会 FJ → 泉州市总工会 QZ (${rows.length - inJinjiang} units) → 晋江市总工会 JJ (${inJinjiang} units); funder FJ pays from ${DEMO_PROVINCE_ACCOUNT}`];
  // Each organisation's own ADMINs publish and assign its rule set: it governs their subtree only.
  for (const [name, organisation] of [['quanzhou', city], ['jinjiang', county]] as const) {
    const scope = staffOf(organisation.id);
    const definition = { ...example(`${name}-2026`), id: `${name}-${thisYear}`, planYears: [thisYear] };
    const publication = await proposeRuleSet(db, cache, proposer, scope, { definition, note: `${organisation.name} ${thisYear} 年度方案` });
    const published = await approveRuleSetProposal(db, cache, approver, scope, { proposalId: publication.id, note: 'demo: checked' });
    const assignment = await proposeRuleSetAssignment(db, cache, proposer, scope, {
      organisationId: organisation.id, planYear: thisYear, ruleSetId: published.ruleSetId, version: published.ruleSetVersion!, effectiveFrom: `${thisYear}-01-01`,
    });
    await approveRuleSetProposal(db, cache, approver, scope, { proposalId: assignment.id, note: 'demo: checked' });
    lines.push(`rule set ${published.ruleSetId} v${published.ruleSetVersion} published and assigned to ${organisation.code} for ${thisYear} from ${thisYear}-01-01 ` +
      `by ${organisation.code}'s ADMINs: each step proposed by ${proposer.subject}, approved by ${approver.subject}`);
  }
  return { lines, cityUnit: rows.find((u) => !u.name.startsWith('晋江'))! };
}

/**
 * Next year's rules, as the city drafts them once this year's claims are decided: the private
 * plan's inpatient ratio raised to 55 %, proposed and left for a second ADMIN, with its what-if
 * over this year's claims (how they would have been decided) for that person to read.
 */
export async function proposeNextYear(runtime: Runtime, thisYear: number): Promise<string> {
  const cache = new RuleSetCache();
  const city = (await organisationByCode(runtime.db, 'QZ'))!;
  const draft = example('quanzhou-2026') as { programmes: { INPATIENT: { ratioBp: Record<string, number> } } };
  draft.programmes.INPATIENT.ratioBp.PRIVATE = 5500;
  const proposal = await proposeRuleSet(runtime.db, cache, proposer, staffOf(city.id), {
    definition: { ...draft, id: `quanzhou-${thisYear + 1}`, planYears: [thisYear + 1] }, note: '私营单位住院互助比例提高至 55%',
  });
  const whatIf = await proposalWhatIf(runtime.db, cache, proposal, { first: 1 });
  return `rule set quanzhou-${thisYear + 1} proposed by QZ's ${proposer.subject} (private plans' inpatient ratio 55 %), waiting for a second ADMIN; ` +
    `its what-if over the ${whatIf.claims} decided claim(s) of ${whatIf.planYear} in QZ and below: ${whatIf.changed} would change, ` +
    `${fenToCnyGrouped(whatIf.totals.before.total)} → ${fenToCnyGrouped(whatIf.totals.after.total)} CNY`;
}

/**
 * Through the API: a unit union registers a worker it never enrolled and applies for a condolence
 * payment (慰问金) after a serious illness; a reviewer approves it. The payout runs then pay it
 * from the city's fund, with the claims.
 */
export async function playCondolence(config: Config, origin: string, unit: DemoProgrammes['cityUnit'], worker: SampleMember): Promise<string> {
  const call = apiCaller(origin, 'the condolence demo');
  const operator = await signDevelopmentToken(config, { sub: 'demo-unit-union', role: 'UNIT_OPERATOR', unit: unit.creditCode });
  const reviewer = await signDevelopmentToken(config, { sub: 'demo-reviewer-zhang', role: 'REVIEWER' });
  const { member } = await call(operator, `mutation($input: CreateMemberInput!) { createMember(input: $input) { member { id } userErrors { field code message } } }`, {
    input: { unitId: toGlobalId('Unit', unit.id), name: worker.name, idNumber: worker.idNumber, phone: worker.phone, bankAccount: { cardNumber: worker.bankCard, bankCode: worker.bankCode } },
  }, 'createMember');
  const today = chinaToday();
  const { condolence } = await call(operator, `mutation($input: ApplyForCondolenceInput!) { applyForCondolence(input: $input) { condolence { id } userErrors { field code message } } }`, {
    input: { memberId: member.id, planYear: Number(today.slice(0, 4)), reason: 'SERIOUS_ILLNESS', amountFen: 200_000, description: '确诊重病住院，本年度未参加职工医疗互助 (seriously ill, not enrolled this year)', occurredOn: today },
  }, 'applyForCondolence');
  const approved = await call(reviewer, `mutation($input: ApproveCondolenceInput!) { approveCondolence(input: $input) { condolence { status approvedFen } userErrors { field code message } } }`, {
    input: { condolenceId: condolence.id, note: 'demo: 单位工会材料齐全 (documents complete)' },
  }, 'approveCondolence');
  return `condolence (慰问金): ${unit.name} applied for ${worker.name}, not enrolled this year; ${approved.condolence.status} ` +
    `${fenToCnyGrouped(approved.condolence.approvedFen)} CNY by demo-reviewer-zhang; paid with the payouts below`;
}

const REPORT_DIR = '.data/demo';

/** The city's published figures for the year (the city and Jinjiang below it), and its yearly report as a workbook and a sealed PDF. */
export async function publishDemoFigures(runtime: Runtime, thisYear: number): Promise<string[]> {
  const { db, config } = runtime;
  const city = await organisationByCode(db, 'QZ');
  const settings = reportSettings(config);
  const report = await yearlyReport(db, UNSCOPED, await figuresQuery(db, UNSCOPED, { organisationId: city!.id, planYear: thisYear }), settings);
  const t = report.totals;
  const files: string[] = [];
  await mkdir(REPORT_DIR, { recursive: true });
  for (const format of ['XLSX', 'PDF'] as const) {
    const file = await reportFile(report, format, settings);
    const out = path.resolve(REPORT_DIR, file.fileName);
    await writeFile(out, file.bytes);
    files.push(out);
  }
  return [
    `figures ${thisYear}, 泉州市总工会 and below: ${t.units} units, ${t.membersEnrolled} members enrolled, ${fenToCnyGrouped(t.contributionsRaisedFen ?? 0)} CNY raised, ` +
      `${t.claims} cases (人次) approved ${fenToCnyGrouped(t.claimsApprovedFen)} CNY, ${t.payouts} payouts paid ${fenToCnyGrouped(t.paidFen)} CNY`,
    `yearly report: ${files.join(' and ')} (check the PDF: pdfsig ${files[1]})`,
  ];
}
