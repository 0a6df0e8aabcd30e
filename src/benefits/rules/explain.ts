import { SETTLEMENT_AMOUNT_LABELS, type BasisFormula, type SettlementAmountField } from './ruleSet.ts';
import { fenToCnyGrouped } from '../../kernel/money.ts';

/**
 * Explanations are for members and reviewers: every step in plain Chinese and in English, the
 * same numbers in both, e.g. `基数 84,000.00 × 20% = 16,800.00` and `basis 84,000.00 × 20% = 16,800.00`.
 * The engine keeps the two languages apart (a screen shows one); stored rows and the CLI keep the
 * joined text `zh / en` (bilingual), which `localizedText` splits again.
 */
export interface Step {
  zh: string;
  en: string;
}

/** Steps in one text per language. */
export function joinedSteps(steps: Step[]): Step {
  return { zh: steps.map((s) => s.zh).join('；'), en: steps.map((s) => s.en).join('; ') };
}

/** Both languages in one string, Chinese first: what claims store and the CLI prints. */
export function bilingual(text: Step): string {
  return `${text.zh} / ${text.en}`;
}

/**
 * The two languages of a `bilingual` text. The Chinese half never contains ` / ` (its figures and
 * labels have no spaced slash), so the first one is the seam; a text without it is shown whole in both.
 */
export function localizedText(joined: string): Step {
  const seam = joined.indexOf(' / ');
  return seam < 0 ? { zh: joined, en: joined } : { zh: joined.slice(0, seam), en: joined.slice(seam + 3) };
}

export const cny = fenToCnyGrouped;

/** 6000 -> "60%", 2550 -> "25.5%", 1 -> "0.01%" (exact: basis points are integers). */
export function percent(bp: number): string {
  const whole = Math.floor(bp / 100);
  const cents = bp % 100;
  if (cents === 0) return `${whole}%`;
  return `${whole}.${String(cents).padStart(2, '0').replace(/0$/, '')}%`;
}

/** A settlement formula with its figures: `个人负担 136,700.00 − 全自费金额 52,700.00 − 超限价自费 0.00`. */
export function formulaTerms(formula: BasisFormula, amounts: Partial<Record<SettlementAmountField, number | null>>): Step {
  const term = (lang: 'zh' | 'en', field: SettlementAmountField) => `${SETTLEMENT_AMOUNT_LABELS[field][lang]} ${cny(amounts[field] ?? 0)}`;
  const join = (lang: 'zh' | 'en') =>
    [...formula.add.map((f, i) => `${i ? '+ ' : ''}${term(lang, f)}`), ...formula.subtract.map((f) => `− ${term(lang, f)}`)].join(' ');
  return { zh: join('zh'), en: join('en') };
}
