import type { PlanType } from '../members/model.ts';
import { withCreditCodeCheck, withLuhnCheck, withResidentIdCheck } from '../kernel/identifiers.ts';

/**
 * Deterministic, realistic-looking sample data for the demo and the benchmarks: valid credit
 * codes, resident IDs, bank cards and CNAPS codes, Chinese names. Same seed, same data.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈';
const GIVEN = '伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬建国志文斌宇浩凯晨鑫欣怡梓涵子轩';
const UNIT_KINDS = ['机械厂', '纺织有限公司', '食品有限公司', '中心小学', '人民医院', '电子科技有限公司', '建筑工程有限公司', '鞋业有限公司', '港务局', '供电公司'];
const PLACES = ['泉州', '晋江', '石狮', '南安', '惠安', '安溪', '永春', '德化'];
// Quanzhou-area division codes (GB/T 2260) for realistic ID numbers.
const DIVISIONS = ['350502', '350503', '350504', '350505', '350521', '350524', '350525', '350526', '350581', '350582', '350583'];
// 12-digit CNAPS codes of bank branches, with a card prefix (BIN) each.
const BANKS = [
  { code: '102397000011', bin: '622202' },
  { code: '103397000019', bin: '622848' },
  { code: '104397000010', bin: '621661' },
  { code: '105397000014', bin: '621700' },
  { code: '313397000019', bin: '622908' },
];

export interface SampleUnit {
  creditCode: string;
  name: string;
  planType: PlanType;
}

export interface SampleMember {
  name: string;
  idNumber: string;
  phone: string;
  bankCard: string;
  bankCode: string;
  unitCreditCode: string;
}

const pick = <T>(rand: () => number, list: readonly T[] | string): T => list[Math.floor(rand() * list.length)] as T;
const digits = (rand: () => number, n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join('');

export function sampleUnits(count: number, seed = 1): SampleUnit[] {
  const rand = prng(seed);
  return Array.from({ length: count }, (_, i) => ({
    // 9 = enterprise, 1 = company; 350500 = Quanzhou; 9-character organisation code with a serial.
    creditCode: withCreditCodeCheck(`91350500${String(100000000 + i * 7919 + Math.floor(rand() * 7000)).slice(-9)}`),
    name: `${pick(rand, PLACES)}${pick<string>(rand, SURNAMES)}氏${pick(rand, UNIT_KINDS)}${i + 1}`,
    planType: rand() < 0.3 ? 'PUBLIC' : 'PRIVATE',
  }));
}

// Born 1975-01-01 plus 30 years: of working age (default-2025's enrolment rules) in every plan year
// from 2021 to 2029, so sample rosters pass eligibility at enrolment.
const BIRTH_DAYS = 10_950;
const ID_SPACE = DIVISIONS.length * 1000 * BIRTH_DAYS;

/** Members spread over `units`, each with a distinct valid ID number. */
export function* sampleMembers(count: number, units: SampleUnit[], seed = 2): Generator<SampleMember> {
  const rand = prng(seed);
  for (let i = 0; i < count; i++) {
    // A bijection of i onto (division, birth day, sequence): IDs never collide below ID_SPACE (120 million).
    const n = (i * 7919 + 12345) % ID_SPACE;
    const division = DIVISIONS[n % DIVISIONS.length]!;
    const sequence = String(Math.floor(n / DIVISIONS.length) % 1000).padStart(3, '0');
    const birth = new Date(Date.UTC(1975, 0, 1 + Math.floor(n / DIVISIONS.length / 1000)));
    const idNumber = withResidentIdCheck(`${division}${birth.toISOString().slice(0, 10).replaceAll('-', '')}${sequence}`);
    const bank = pick(rand, BANKS);
    yield {
      name: pick<string>(rand, SURNAMES) + pick<string>(rand, GIVEN) + (rand() < 0.6 ? pick<string>(rand, GIVEN) : ''),
      idNumber,
      phone: `1${pick(rand, ['3', '5', '7', '8', '9'])}${digits(rand, 9)}`,
      bankCard: withLuhnCheck(bank.bin + digits(rand, 12)),
      bankCode: bank.code,
      unitCreditCode: units[i % units.length]!.creditCode,
    };
  }
}

export const ROSTER_HEADER = 'name,id_number,phone,bank_card,bank_code,unit_credit_code,plan_year,special_disease,member_categories\n';

/** One roster row; `categories` are the member's targeted groups (an empty cell keeps those recorded). */
export function rosterLine(m: SampleMember, planYear: number, specialDisease: boolean, categories: readonly string[] = []): string {
  return `${m.name},${m.idNumber},${m.phone},${m.bankCard},${m.bankCode},${m.unitCreditCode},${planYear},${specialDisease},${categories.join(';')}\n`;
}

/** The sample's targeted groups: every ninth member a new-employment-form worker, every thirteenth a sanitation worker. */
export function sampleCategories(index: number): string[] {
  return [...(index % 9 === 0 ? ['NEW_EMPLOYMENT_FORM'] : []), ...(index % 13 === 0 ? ['SANITATION'] : [])];
}

/** The sample units and members of `hub demo --members n` (`hub sim insurance --demo-members n` settles for them). */
export function demoSample(memberCount: number) {
  const units = sampleUnits(Math.max(3, Math.ceil(memberCount / 150)));
  return { units, members: [...sampleMembers(memberCount, units)] };
}
