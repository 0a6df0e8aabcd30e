import type { Actor } from '../audit/audit.ts';
import { recordAudit } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { checkAll, conflict, notFound } from '../kernel/errors.ts';
import { textProblem } from '../kernel/text.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import type { NewNotification } from '../notifications/model.ts';
import { recordNotifications } from '../notifications/store.ts';
import { payableFrom, protectBankCard, validateMemberFields } from './memberFields.ts';
import type { MemberRow, RecordedChange } from './model.ts';
import * as store from './store.ts';

/**
 * A member's own changes (自助服务): its bank account for payouts. The member is the token's, never
 * the input's. The change follows the staff path exactly (member_changes, the cooling-off of
 * migration 0007, HELD payouts): a stolen member login must not redirect the next payout at once,
 * and the member is told of every change of its account, whoever made it.
 */

export interface OwnBankAccountInput {
  accountHolderName: string;
  cardNumber: string;
  bankCode: string;
}

// Forms of the middle dot in names of minority members (买买提·艾力) that a keyboard may give.
const NAME_DOTS = /[·•‧・.．]/g;

/** A name as compared with the registered one: full-width forms folded, spaces dropped, one middle dot. */
function comparableName(name: string): string {
  return name.normalize('NFKC').replace(/\s+/g, '').replace(NAME_DOTS, '·');
}

/**
 * Why the holder name, card and bank code cannot be the member's payout account, every problem at
 * once (input paths), or nothing. A member gives its own bank card: 16 to 19 digits, Luhn-checked
 * (an account number without a card is for staff to record), held in its own name.
 */
function ownAccountProblems(member: MemberRow, input: OwnBankAccountInput): Record<string, string | null> {
  const cardNumber = input.cardNumber.replace(/[\s-]/g, '');
  const { problems } = validateMemberFields({ bankCard: cardNumber, bankCode: input.bankCode.trim() }, { partial: true });
  const reason = (field: 'bankCard' | 'bankCode') => problems.find((p) => p.field === field)?.reason ?? null;
  const holder = input.accountHolderName.trim();
  return {
    'input.accountHolderName': textProblem(holder)
      ?? (holder === '' ? 'is required'
        : comparableName(holder) !== comparableName(member.name) ? 'must be your own name as registered: payouts go only to a card in your name' : null),
    'input.cardNumber': reason('bankCard') ?? (/^\d{16,19}$/.test(cardNumber) ? null : 'must be the number of your own bank card (16 to 19 digits)'),
    'input.bankCode': reason('bankCode'),
  };
}

/**
 * The member replaces (or gives its first) bank account. One transaction: the change with its
 * member_changes row, the cooling-off, the BANK_ACCOUNT_CHANGED notification and the audit row.
 * The same card and bank code again is a CONFLICT, nothing written.
 */
export async function changeOwnBankAccount(
  db: Db, keys: PersonalDataKeys, actor: Actor, memberId: number, input: OwnBankAccountInput, coolingOffDays: number,
): Promise<MemberRow> {
  const [member] = await store.membersByIds(db, [memberId], { unitId: null, memberId, organisationId: null });
  if (!member) throw notFound('member');
  checkAll(ownAccountProblems(member, input));
  const card = protectBankCard(keys, input.cardNumber.replace(/[\s-]/g, ''), input.bankCode.trim());
  return inTransaction(db, async (tx) => {
    // Locked in a statement of its own, as updateMember does: the change's record reads the row as
    // another writer committed it (their phone change is theirs), not as this statement's snapshot saw it.
    if (!(await store.lockMemberInScope(tx, member.id, null, { unitId: null, memberId, organisationId: null }, 'change'))) throw notFound('member');
    const changed = await store.changeMember(tx, member.id, member.unitId, { bankCard: card }, { actor, action: 'member.update' });
    if (!changed) throw notFound('member');
    if (!changed.changes.some((c) => c.field === 'BANK_ACCOUNT')) throw conflict('this card and bank code are already your account', 'input.cardNumber');
    await recordChangeAlerts(tx, changed.member, changed.changes, actor, coolingOffDays);
    await recordAudit(tx, actor, {
      action: 'member.changeOwnBankAccount', targetType: 'Member', targetId: String(member.id),
      details: { bankAccount: `${card.masked} / ${card.bankCode}`, payableFrom: payableFrom(changed.member, coolingOffDays)?.toISOString() ?? null },
    });
    return changed.member;
  });
}

/**
 * Tells the member its bank account or its phone changed, for each such row of `changes` (of one
 * member write): in the writer's transaction, keyed by that change's id, so a change is told once.
 * Every writer of a member's account or phone calls it (the member itself, `updateMember`): a
 * change the member did not make is what it must hear of, on the phone it had before
 * (`alert_phone`). A first phone tells no one. Figures only: no card number, phone or name.
 */
export async function recordChangeAlerts(
  tx: Tx, member: MemberRow, changes: readonly RecordedChange[], actor: Actor, coolingOffDays: number,
): Promise<void> {
  const told = { changedAt: member.updatedAt.toISOString(), byMember: actor.role === 'MEMBER', actorRole: actor.role };
  const alerts: NewNotification[] = [];
  const card = changes.find((c) => c.field === 'BANK_ACCOUNT');
  if (card) {
    alerts.push({
      memberId: member.id, kind: 'BANK_ACCOUNT_CHANGED', subjectType: 'Member', subjectId: member.id, eventKey: String(card.id),
      facts: {
        ...told, changedAt: (member.bankCardChangedAt ?? member.updatedAt).toISOString(),
        firstAccount: card.before === null, payableFrom: payableFrom(member, coolingOffDays)?.toISOString() ?? null,
      },
    });
  }
  const phone = changes.find((c) => c.field === 'PHONE' && c.before !== null);
  if (phone) alerts.push({ memberId: member.id, kind: 'PHONE_CHANGED', subjectType: 'Member', subjectId: member.id, eventKey: String(phone.id), facts: told });
  await recordNotifications(tx, alerts);
}
