import { fenToCny } from '../kernel/money.ts';
import type { NotificationKind, NotificationRow } from './model.ts';

/**
 * What a notification says, per kind, in Chinese: a title, the amount when its facts have one, the
 * status or reason code, and a short reference (the subject's kind and number). Built from `facts`
 * (figures only) and the subject's number: no name, ID number, card or phone is ever part of it.
 * Facts read: `amountFen` (the main amount), `status`, `reasonCode`.
 */
const TITLES: Record<NotificationKind, string> = {
  CLAIM_DECIDED: '您的医疗互助金申请已审核',
  CLAIM_REDECIDED: '您的医疗互助金申请已重新审核',
  APPLICATION_ACCEPTED: '您提交的互助申请材料已受理',
  APPLICATION_RETURNED: '您提交的互助申请材料已退回，请补正',
  APPEAL_DECIDED: '您的复核申请已有结论',
  PAYOUT_PAID: '您的医疗互助金已支付到账',
  PAYOUT_FAILED: '您的医疗互助金支付未成功',
  PAYOUT_RETURNED: '您的医疗互助金被银行退回',
  BANK_ACCOUNT_CHANGED: '您的收款银行账户已变更，如非本人操作请联系工会',
  CONDOLENCE_APPROVED: '工会为您申请的慰问金已审批通过，将转入您的收款账户',
  PHONE_CHANGED: '您在工会登记的手机号码已变更，如非本人操作请联系工会',
};

/** Chinese words of the statuses facts may carry; anything else is shown as its code. */
const STATUS_WORDS: Record<string, string> = {
  APPROVED: '审核通过', PARTIALLY_APPROVED: '部分通过', REJECTED: '未通过', UPHELD: '维持原结论', OVERTURNED: '已改判',
  INELIGIBLE: '不符合互助条件', PENDING_REVIEW: '待人工审核',
};

const REFERENCE_PREFIX: Record<NotificationRow['subjectType'], string> = { Claim: 'C', Application: 'A', Appeal: 'R', Payout: 'P', Member: 'M', Condolence: 'K' };

export interface RenderedMessage {
  /** The whole text, as an SMS shows it. */
  text: string;
  /** The template's parameters (SMS TemplateParam); every value is short, plain text. */
  params: { title: string; amount: string; status: string; reference: string };
}

const fact = (facts: NotificationRow['facts'], key: string) => facts[key];

/** A condolence payment's payout (facts `condolence: true`) is told of as 慰问金, not 医疗互助金. */
const CONDOLENCE_PAYOUT_TITLES: Partial<Record<NotificationKind, string>> = {
  PAYOUT_PAID: '您的工会慰问金已支付到账',
  PAYOUT_FAILED: '您的工会慰问金支付未成功',
  PAYOUT_RETURNED: '您的工会慰问金被银行退回',
};

export function renderMessage(n: Pick<NotificationRow, 'kind' | 'subjectType' | 'subjectId' | 'facts'>): RenderedMessage {
  const title = (fact(n.facts, 'condolence') === true ? CONDOLENCE_PAYOUT_TITLES[n.kind] : undefined) ?? TITLES[n.kind];
  const amountFen = fact(n.facts, 'amountFen');
  const amount = typeof amountFen === 'number' && Number.isSafeInteger(amountFen) ? fenToCny(amountFen) : '';
  const status = fact(n.facts, 'status');
  const reasonCode = fact(n.facts, 'reasonCode');
  const statusText = typeof status === 'string' ? STATUS_WORDS[status] ?? status : typeof reasonCode === 'string' ? `原因代码 ${reasonCode}` : '';
  const reference = `${REFERENCE_PREFIX[n.subjectType]}${n.subjectId}`;
  const parts = [title, statusText && `结果：${statusText}`, amount && `金额 ${amount} 元`, `编号 ${reference}`].filter(Boolean);
  return { text: `${parts.join('，')}。`, params: { title, amount, status: statusText, reference } };
}
