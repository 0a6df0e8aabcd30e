import { prng } from '../../demo/sampleData.ts';
import { AMOUNT_FIELDS, type AmountField } from '../model.ts';
import { residentIdFacts, withResidentIdCheck } from '../../kernel/identifiers.ts';
import { fenToCny } from '../../kernel/money.ts';
import { formatChinaTime, parseChinaTime } from '../../kernel/time.ts';

/**
 * The platform simulator's data, pure and deterministic: item `i` of a feed depends only on the
 * seed, `i`, the member list and `today`, so any page can be generated on demand (100,000 items
 * need no memory) and tests can recompute what the simulator served, with the truth behind it.
 *
 * Mix: ~75% outpatient (2207), ~25% inpatient (2304), ~3% strangers (not members), ~2% reversals
 * (2208 / 2305) of an earlier item, ~2% invalid records (one defect each); inpatient stays with
 * cancer (C..) or heart-valve (I34–I37) diagnoses now and then.
 */
export interface SimMember {
  idNumber: string;
  name: string;
}

export interface SimulatorData {
  seed: number;
  /** Items in the feed. */
  count: number;
  members: readonly SimMember[];
  /** yyyy-MM-dd: settlements fall between 1 January of the year before and this day. */
  today: string;
}

/** What an item really is, for tests and the demo to check the hub against. */
export type SimTruth =
  | { kind: 'SETTLEMENT'; memberIndex: number | null; inpatient: boolean; diseaseGroup: 'CANCER' | 'HEART_VALVE' | null }
  | { kind: 'REVERSAL'; memberIndex: number | null; reversesIndex: number }
  | { kind: 'INVALID'; memberIndex: number | null; field: InvalidField };

export const INVALID_FIELDS = ['medfee_sumamt', 'psn_part_amt', 'certno', 'mdtrt_id', 'setl_time', 'hifp_pay'] as const;
export type InvalidField = (typeof INVALID_FIELDS)[number];

export interface FeedItem {
  infno: '2207' | '2304' | '2208' | '2305';
  setlinfo: Record<string, string | number>;
  diseinfo?: { diag_code: string; diag_name: string; maindiag_flag: '0' | '1' }[];
}

export interface SimItem {
  index: number;
  item: FeedItem;
  truth: SimTruth;
}

type Diagnosis = readonly [code: string, name: string];
const CANCER: readonly Diagnosis[] = [['C16.900', '胃恶性肿瘤'], ['C34.100', '上叶,支气管或肺恶性肿瘤'], ['C50.900', '乳房恶性肿瘤'], ['C22.000', '肝细胞癌'], ['C18.700', '乙状结肠恶性肿瘤']];
const HEART_VALVE: readonly Diagnosis[] = [['I34.000', '二尖瓣关闭不全'], ['I35.000', '主动脉瓣狭窄'], ['I36.100', '非风湿性三尖瓣关闭不全'], ['I37.000', '肺动脉瓣狭窄']];
const INPATIENT_COMMON: readonly Diagnosis[] = [['J18.900', '肺炎'], ['I63.900', '脑梗死'], ['K80.200', '胆囊结石'], ['S72.000', '股骨颈骨折'], ['N20.000', '肾结石'], ['K35.800', '急性阑尾炎'], ['I21.900', '急性心肌梗死']];
const OUTPATIENT_COMMON: readonly Diagnosis[] = [['J06.900', '急性上呼吸道感染'], ['I10.x00', '高血压'], ['E11.900', '2型糖尿病'], ['K29.700', '胃炎'], ['M54.500', '腰痛']];
const HOSPITALS = [['H35050200001', '泉州市第一医院'], ['H35058200012', '晋江市医院'], ['H35050300023', '泉州市中医院'], ['H35052100031', '惠安县医院']] as const;
const AREA = '350500';
// Never one of the demo's division codes: a "stranger" is never a registered member.
const STRANGER_DIVISION = '350599';

const SALT = 0x9e3779b9;

/** The feed item at `index` (0-based). */
export function simulatedItem(data: SimulatorData, index: number): SimItem {
  const rand = prng((data.seed * SALT) ^ Math.imul(index + 1, 0x85ebca6b));
  const roll = rand();
  if (roll < 0.02) return invalidItem(data, index, rand);
  if (roll < 0.04) {
    const reversal = reversalItem(data, index, rand);
    if (reversal) return reversal;
  }
  return settlementItem(data, index, rand);
}

export function* simulatedItems(data: SimulatorData, from = 0, to = data.count): Generator<SimItem> {
  for (let i = from; i < Math.min(to, data.count); i++) yield simulatedItem(data, i);
}

/**
 * The length of the shortest feed holding `stays` inpatient settlements (2304): a province's year is
 * counted in hospital stays, and the feed mixes outpatient visits, strangers, reversals and invalid
 * records around them (about 4.2 items a stay).
 */
export function feedLengthForStays(data: Omit<SimulatorData, 'count'>, stays: number): number {
  let found = 0;
  for (let i = 0; found < stays; i++) {
    const { truth } = simulatedItem({ ...data, count: i + 1 }, i);
    if (truth.kind === 'SETTLEMENT' && truth.inpatient) found += 1;
    if (found === stays) return i + 1;
  }
  return 0;
}

/**
 * A steady feed: item `i` appears on the platform `i / perSecond` seconds after `startedAt`, in
 * feed order, as settlements arrive on a real platform through the day (a benchmark feeds the hub
 * at a known rate and knows when each settlement appeared).
 */
export interface FeedSchedule {
  perSecond: number;
  startedAt: Date;
}

/** When item `index` appears (whole milliseconds). */
export function itemAppearsAt(feed: FeedSchedule, index: number): Date {
  return new Date(feed.startedAt.getTime() + Math.ceil((index * 1000) / feed.perSecond));
}

/** How many of a feed's `count` items have appeared by `now`: exactly those whose itemAppearsAt is not after it. */
export function itemsAppeared(feed: FeedSchedule, count: number, now: Date): number {
  const elapsed = now.getTime() - feed.startedAt.getTime();
  // An estimate, then corrected by itemAppearsAt itself so the two never disagree by rounding.
  let n = Math.max(0, Math.min(count, Math.floor((elapsed * feed.perSecond) / 1000) + 1));
  while (n < count && itemAppearsAt(feed, n) <= now) n += 1;
  while (n > 0 && itemAppearsAt(feed, n - 1) > now) n -= 1;
  return n;
}

function settlementItem(data: SimulatorData, index: number, rand: () => number): SimItem {
  const stranger = data.members.length === 0 || rand() < 0.03;
  const memberIndex = stranger ? null : Math.floor(rand() * data.members.length);
  const person = memberIndex === null ? strangerOf(data.seed, index) : data.members[memberIndex]!;
  const inpatient = rand() < 0.25;
  const diseaseRoll = rand();
  const diseaseGroup = !inpatient ? null : diseaseRoll < 0.06 ? 'CANCER' : diseaseRoll < 0.09 ? 'HEART_VALVE' : null;
  const diagnoses = inpatient
    ? [pick(rand, diseaseGroup === 'CANCER' ? CANCER : diseaseGroup === 'HEART_VALVE' ? HEART_VALVE : INPATIENT_COMMON), ...(rand() < 0.3 ? [pick(rand, OUTPATIENT_COMMON)] : [])]
    : rand() < 0.5 ? [pick(rand, OUTPATIENT_COMMON)] : [];
  const setlTime = randomTime(data.today, rand);
  const amounts = inpatient ? inpatientAmounts(rand, diseaseGroup) : outpatientAmounts(rand);
  const hospital = pick(rand, HOSPITALS);
  const asNumbers = rand() < 0.1; // some senders write JSON numbers instead of strings
  const setlinfo: FeedItem['setlinfo'] = {
    mdtrt_id: `S${AREA}${setlTime.slice(2, 10).replaceAll('-', '')}${sequence(data.seed, index)}`,
    setl_id: setlIdOf(data.seed, index, setlTime),
    psn_no: psnNoOf(person.idNumber),
    psn_name: person.name,
    psn_cert_type: '01',
    certno: person.idNumber,
    ...personFacts(person.idNumber, setlTime),
    insutype: '310',
    psn_type: '11',
    cvlserv_flag: amounts.cvlserv_pay > 0 ? '1' : '0',
    setl_time: setlTime,
    mdtrt_cert_type: '02',
    med_type: inpatient ? (rand() < 0.9 ? '21' : '22') : pick(rand, ['11', '11', '11', '13', '14']),
    ...Object.fromEntries(Object.entries(amounts).map(([field, fen]) => [field, asNumbers ? Number(fenToCny(fen)) : fenToCny(fen)])),
    balc: fenToCny(Math.floor(rand() * 500_000)),
    medins_setl_id: `${hospital[0]}${String(index).padStart(8, '0')}`,
    fixmedins_code: hospital[0],
    fixmedins_name: hospital[1],
    clr_optins: AREA,
    clr_way: '1',
    clr_type: inpatient ? '21' : '11',
  };
  return {
    index,
    item: {
      infno: inpatient ? '2304' : '2207',
      setlinfo,
      ...(diagnoses.length ? { diseinfo: diagnoses.map(([code, name], i) => ({ diag_code: code, diag_name: name, maindiag_flag: i === 0 ? '1' : '0' } as const)) } : {}),
    },
    truth: { kind: 'SETTLEMENT', memberIndex, inpatient, diseaseGroup },
  };
}

// A reversal cancels the item this many places before it: one target each, never cancelled twice.
const REVERSAL_DISTANCE = 97;

/** A reversal (撤销) of an earlier valid settlement: same stay, new setl_id, amounts negated. */
function reversalItem(data: SimulatorData, index: number, rand: () => number): SimItem | null {
  const target = index - REVERSAL_DISTANCE;
  const original = target >= 0 ? simulatedItem(data, target) : null;
  if (original?.truth.kind !== 'SETTLEMENT') return null;
  const o = original.item.setlinfo;
  const cancelledAt = formatChinaTime(new Date(parseChinaTime(String(o.setl_time))!.getTime() + (1 + Math.floor(rand() * 72)) * 3600_000));
  const setlinfo: FeedItem['setlinfo'] = { ...o, setl_id: setlIdOf(data.seed, index, cancelledAt), init_setl_id: o.setl_id!, setl_time: cancelledAt };
  for (const [field, value] of Object.entries(o)) {
    if (AMOUNT_NAMES.has(field)) setlinfo[field] = negate(value);
  }
  return {
    index,
    item: { infno: original.item.infno === '2304' ? '2305' : '2208', setlinfo, ...(original.item.diseinfo ? { diseinfo: original.item.diseinfo } : {}) },
    truth: { kind: 'REVERSAL', memberIndex: original.truth.memberIndex, reversesIndex: target },
  };
}

/** A member's settlement with one defect the hub must reject, naming the field. */
function invalidItem(data: SimulatorData, index: number, rand: () => number): SimItem {
  const valid = settlementItem({ ...data, members: data.members.length ? data.members : [strangerOf(data.seed, index)] }, index, rand);
  const field = pick(rand, INVALID_FIELDS);
  const s = valid.item.setlinfo;
  const plus = (value: string | number, fen: number) => fenToCny(Math.round(Number(value) * 100) + fen);
  switch (field) {
    case 'medfee_sumamt': s.medfee_sumamt = plus(s.medfee_sumamt!, 100); break;
    case 'psn_part_amt': s.psn_cash_pay = plus(s.psn_cash_pay!, 50); break;
    case 'certno': s.certno = String(s.certno).slice(0, 17) + (String(s.certno).endsWith('0') ? '1' : '0'); break;
    case 'mdtrt_id': delete s.mdtrt_id; break;
    case 'setl_time': s.setl_time = String(s.setl_time).replaceAll('-', '/').slice(0, 16); break;
    case 'hifp_pay': s.hifp_pay = `${fenToCny(Math.round(Number(s.hifp_pay) * 100))}5`; break;
  }
  const memberIndex = valid.truth.kind === 'SETTLEMENT' ? valid.truth.memberIndex : null;
  return { index, item: valid.item, truth: { kind: 'INVALID', memberIndex, field } };
}

const AMOUNT_NAMES = new Set<string>(AMOUNT_FIELDS.map((f) => f.field));

/** A stay's fees split the way the platform reports them; every identity of docs/design.md holds. */
function splitFees(rand: () => number, total: number, o: { deductible: number; ratio: number; cap: number; largeExpense: boolean }): Record<AmountField, number> {
  const share = (max: number) => Math.floor(total * rand() * max);
  const fullyOwn = share(0.08);
  const overLimit = rand() < 0.7 ? 0 : share(0.02);
  const preSelf = share(0.1);
  const inPolicy = total - fullyOwn - overLimit - preSelf;
  const deductible = Math.min(inPolicy, o.deductible);
  const pooledRaw = Math.floor((inPolicy - deductible) * o.ratio);
  const pooled = Math.min(pooledRaw, o.cap);
  // 职工大额医疗费用补助 pays most of what the pooled fund's cap left.
  const largeExpense = o.largeExpense ? Math.floor((pooledRaw - pooled) * 0.85) : 0;
  const civilServant = rand() < 0.15 ? Math.floor((inPolicy - deductible - pooled - largeExpense) * 0.3) : 0;
  const funds = pooled + largeExpense + civilServant;
  const hospital = rand() < 0.1 ? Math.min(deductible, Math.floor(total * 0.01)) : 0;
  const person = total - funds - hospital;
  const account = Math.min(person, Math.floor(rand() * 300_000));
  return {
    medfee_sumamt: total, fulamt_ownpay_amt: fullyOwn, overlmt_selfpay: overLimit, preselfpay_amt: preSelf,
    inscp_scp_amt: inPolicy, act_pay_dedc: deductible, hifp_pay: pooled, hifmi_pay: 0, hifob_pay: largeExpense, maf_pay: 0,
    cvlserv_pay: civilServant, hifes_pay: 0, oth_pay: 0, fund_pay_sumamt: funds, psn_part_amt: person, acct_pay: account,
    psn_cash_pay: person - account, hosp_part_amt: hospital,
  };
}

function inpatientAmounts(rand: () => number, group: 'CANCER' | 'HEART_VALVE' | null): Record<AmountField, number> {
  const total = group === 'CANCER' ? 8_000_000 + Math.floor(rand() * 22_000_000)
    : group === 'HEART_VALVE' ? 10_000_000 + Math.floor(rand() * 15_000_000)
    : 300_000 + Math.floor(rand() * rand() * 5_700_000);
  return splitFees(rand, total, { deductible: 80_000, ratio: 0.7 + rand() * 0.2, cap: 15_000_000, largeExpense: true });
}

function outpatientAmounts(rand: () => number): Record<AmountField, number> {
  const total = 5_000 + Math.floor(rand() * rand() * 195_000);
  return splitFees(rand, total, { deductible: rand() < 0.5 ? 0 : Math.min(total, 20_000), ratio: 0.5 + rand() * 0.2, cap: 500_000, largeExpense: false });
}

function negate(value: string | number): string | number {
  if (typeof value === 'number') return value === 0 ? 0 : -value;
  return value === '0.00' ? value : `-${value}`;
}

function randomTime(today: string, rand: () => number): string {
  const end = parseChinaTime(`${today} 23:59:59`)!.getTime();
  const start = parseChinaTime(`${Number(today.slice(0, 4)) - 1}-01-01 00:00:00`)!.getTime();
  return formatChinaTime(new Date(start + Math.floor(rand() * (end - start))));
}

function personFacts(idNumber: string, setlTime: string) {
  const { birthDate, gender } = residentIdFacts(idNumber);
  const age = Number(setlTime.slice(0, 4)) - Number(birthDate.slice(0, 4)) - (setlTime.slice(5, 10) < birthDate.slice(5) ? 1 : 0);
  return { gend: gender === 'M' ? '1' : '2', naty: '01', brdy: birthDate, age: `${age}.0` };
}

/** Someone insured on the platform who is not a member: a valid ID number in a division the demo never uses. */
function strangerOf(seed: number, index: number): SimMember {
  const days = (seed * 7 + index * 131) % 14_600;
  const birth = new Date(Date.UTC(1965, 0, 1 + days)).toISOString().slice(0, 10).replaceAll('-', '');
  return { idNumber: withResidentIdCheck(`${STRANGER_DIVISION}${birth}${String(index % 1000).padStart(3, '0')}`), name: '路人甲' };
}

function setlIdOf(seed: number, index: number, setlTime: string): string {
  return `A${AREA}${setlTime.slice(2, 10).replaceAll('-', '')}${sequence(seed, index)}`;
}

// Seed in the number, so feeds with different seeds never share a setl_id.
function sequence(seed: number, index: number): string {
  return `${String(seed % 100).padStart(2, '0')}${String(index).padStart(7, '0')}`;
}

function psnNoOf(idNumber: string): string {
  let h = 0;
  for (const c of idNumber) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return `${AREA}${String(h).padStart(10, '0')}`;
}

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}
