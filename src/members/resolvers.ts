import { chinaToday, isIsoDate } from '../kernel/time.ts';
import { createHash } from 'node:crypto';
import type { ImportRosterInput, TextEncoding } from '../gateway/generated/resolvers.ts';
import type { DomainResolvers } from '../gateway/payloads.ts';
import { actorOf, actorView, hasRole, requireHubRole, requireRole, scopeOf, type Context } from '../gateway/context.ts';
import type { MemberChangeAction, Role } from '../gateway/generated/resolvers.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import { type CountedConnection, countedTotal, readPage, toConnection } from '../gateway/connection.ts';
import { inTransaction } from '../db/pool.ts';
import type { Tx } from '../kernel/transaction.ts';
import { recordAudit } from '../audit/audit.ts';
import { decrypt, encrypt, lookupHash } from '../privacy/personalData.ts';
import { recordManualPayment } from '../reconciliation/manualPayments.ts';
import { waitingPeriodEndsOn } from './enrolments.ts';
import { enrol, memberNotLocked, UNIT_TERMS_WAITING } from './eligibility.ts';
import {
  payableFrom, protectBankCard, protectMember, REGISTERED_ELSEWHERE, validateMemberFields, type MemberField, type MemberFields,
  type RawMemberFields,
} from './memberFields.ts';
import { RosterFileError } from './rosterImport.ts';
import { changeOwnBankAccount, recordChangeAlerts } from './selfService.ts';
import { decodedText, type TextEncodingName } from '../csv.ts';
import * as store from './store.ts';
import { contributionReference, contributionStatus, enrolmentContributionFen, type EnrolmentRow, type MemberCategory, type MemberChangeRow, type MemberRow, type RecordedChange, type StoredContributionPayment, type UnitRow } from './model.ts';
import { firstRows } from '../kernel/page.ts';
import { creditCodeProblem, residentIdProblem } from '../kernel/identifiers.ts';
import { check, checkAll, conflict, forbidden, invalidFields, notFound, reasonOf } from '../kernel/errors.ts';
import { enqueueRosterImport } from './queue.ts';
import { takeUpload, uploadUrl, type UploadPurpose } from '../gateway/files.ts';
import { INGEST } from '../settlements/resolvers.ts';
import { WRITE } from '../reconciliation/resolvers.ts';
import { defaultEnrolmentDate } from '../benefits/rules/enrolment.ts';
import { withinCallerOrganisation } from '../organisations/loaders.ts';
import DataLoader from 'dataloader';
import type { UnitTermsChange } from '../gateway/generated/resolvers.ts';
import type { UnitTermsChangeRow } from './model.ts';
import { confirmTermsChange, NONE_WAITING, registerUnit } from './unitTerms.ts';

const READ_ALL = ['ADMIN', 'REVIEWER', 'FINANCE', 'AUDITOR', 'SERVICE'] as const;
export const MANAGE_MEMBERS = ['ADMIN', 'SERVICE', 'UNIT_OPERATOR'] as const;
const REVEAL = ['ADMIN', 'AUDITOR', 'UNIT_OPERATOR', 'MEMBER'] as const;
// FINANCE confirms replaced bank accounts, so it sees what was replaced; a unit operator only reaches its own members.
const READ_CHANGES = ['ADMIN', 'AUDITOR', 'FINANCE', 'UNIT_OPERATOR'] as const;
/** Who may ask for an upload URL: the roles of the mutation that takes the upload. */
const UPLOAD_ROLES: Record<UploadPurpose, readonly Role[]> = { ROSTER_IMPORT: MANAGE_MEMBERS, SETTLEMENTS: INGEST, BANK_STATEMENT: WRITE };
/** Purposes whose mutation is the hub's own work, refused to staff bound to an organisation: so is their upload URL. */
const HUB_UPLOADS: ReadonlySet<UploadPurpose> = new Set<UploadPurpose>(['SETTLEMENTS', 'BANK_STATEMENT']);

const ENCODING_OF: Record<TextEncoding, TextEncodingName> = { UTF_8: 'utf-8', GB18030: 'gb18030', GBK: 'gbk' };
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const rosterField = (input: ImportRosterInput) => (input.csv != null ? 'input.csv' : input.uploadId != null ? 'input.uploadId' : 'input.contentBase64');

/** What is wrong with how the roster file is given (for `checkAll`, with the input's other fields). */
function rosterFileProblems(input: ImportRosterInput): Record<string, string | null> {
  return {
    [rosterField(input)]: [input.csv, input.contentBase64, input.uploadId].filter((v) => v != null).length !== 1 ? 'give exactly one of csv, contentBase64 and uploadId' : null,
    'input.encoding': input.encoding != null && input.csv != null ? 'goes with contentBase64 or uploadId (csv is already text)' : null,
  };
}

/**
 * The roster's bytes and UTF-8 text, from `input.csv`, `input.contentBase64` or the upload's
 * bytes (given as `rosterFileProblems` checks). Decoded here, where a refusal can say how to give the encoding (the
 * worker reads the stored text); a file that is not text comes back as `failure` instead.
 */
async function rosterText(input: ImportRosterInput, uploaded: Buffer | null): Promise<{ bytes: Buffer; csv: string | null; failure: string | null }> {
  const field = rosterField(input);
  const base64 = input.contentBase64?.replace(/\s/g, '');
  if (base64 !== undefined) check(field, base64.length % 4 === 0 && BASE64.test(base64) ? null : 'is not base64');
  const bytes = uploaded ?? (base64 === undefined ? Buffer.from(input.csv!) : Buffer.from(base64, 'base64'));
  const decoded = await decodedText(bytes, {
    encoding: input.csv != null ? 'utf-8' : input.encoding ? ENCODING_OF[input.encoding] : undefined,
    declare: (encoding) => `${uploaded ? 'uploadId' : 'contentBase64'} with encoding ${encoding.toUpperCase().replace('-', '_')}`,
    onInvalid: (reason) => new RosterFileError(reason),
  }).catch((error: unknown) => {
    if (error instanceof RosterFileError) return error;
    throw error;
  });
  if (decoded instanceof RosterFileError) return { bytes, csv: null, failure: decoded.message };
  check(field, decoded.trim() ? null : 'is empty');
  return { bytes, csv: decoded, failure: null };
}

// ---- visibility: scoped lookups that answer NOT_FOUND for rows out of the caller's scope ----

async function visibleUnit(ctx: Context, field: string, globalId: string): Promise<UnitRow> {
  const id = localId(field, globalId, 'Unit');
  const [unit] = await store.unitsByIds(ctx.reads, [id], scopeOf(ctx.principal));
  if (!unit) throw notFound('unit', field);
  return unit;
}

async function visibleMember(ctx: Context, field: string, globalId: string): Promise<MemberRow> {
  const member = await ctx.loaders.member.load(localId(field, globalId, 'Member'));
  if (!member) throw notFound('member', field);
  return member;
}

/**
 * Locks the member `visibleMember` found for a change by the caller; NOT_FOUND when a move took them
 * out of the caller's reach meanwhile, CONFLICT when one took them to another unit within it.
 */
async function lockForChange(tx: Tx, ctx: Context, member: MemberRow): Promise<void> {
  const scope = scopeOf(ctx.principal);
  if (!(await store.lockMemberInScope(tx, member.id, member.unitId, scope, 'change'))) throw await memberNotLocked(tx, member.id, scope);
}

/** A unit operator may only act on their own unit. */
function requireOwnUnit(ctx: Context, unitId: number): void {
  if (ctx.principal.role === 'UNIT_OPERATOR' && ctx.principal.unitId !== unitId) throw forbidden('you may only act on your own unit');
}

const INPUT_FIELD: Record<MemberField, string> = {
  name: 'input.name', idNumber: 'input.idNumber', phone: 'input.phone',
  bankCard: 'input.bankAccount.cardNumber', bankCode: 'input.bankAccount.bankCode',
};

/** A member's fields from the input, checked: bad input names every problem by its input path (the first is the error's). */
function checkedMemberFields(raw: RawMemberFields, options: { partial?: boolean } = {}): Partial<MemberFields> {
  const { value, problems } = validateMemberFields(raw, options);
  if (problems.length) throw invalidFields(problems.map((p) => ({ field: INPUT_FIELD[p.field], reason: p.reason })));
  return value;
}

/**
 * Who corrects an enrolment's targeted groups (staff, each in its scope). The groups decide what a
 * rule set pays (a programme `when: { memberCategories }`), so whoever sets them is recorded on the
 * enrolment (categories_set_by) and does not approve that member-year's claims alone (four eyes:
 * src/benefits/review.ts, migration 0057).
 */
const CATEGORY_EDITORS = ['ADMIN', 'REVIEWER'] as const;

/** The categories, each once: a repeated one is a mistake worth naming. */
function distinctCategories(field: string, categories: readonly MemberCategory[]): MemberCategory[] {
  const repeated = categories.find((c, i) => categories.indexOf(c) !== i);
  check(field, repeated === undefined ? null : `names ${repeated} twice`);
  return [...categories];
}

const planYearProblem = (year: number) => (year >= 2000 && year <= 2100 ? null : 'must be a year between 2000 and 2100');
const unitNameProblem = (name: string) => (name.length >= 1 && name.length <= 200 ? null : 'must be 1 to 200 characters');

/** Who proposes, confirms and withdraws a unit's terms (two of them: unitTerms.ts). */
const UNIT_TERMS_ADMINS = ['ADMIN'] as const;

/** A terms change as the API shows it. */
function termsChangeView(ctx: Context, row: UnitTermsChangeRow): UnitTermsChange {
  return {
    planType: row.planType, unitType: row.unitType, smallMicro: row.smallMicro, reason: row.reason,
    confirmed: row.status === 'CONFIRMED', withdrawn: row.status === 'WITHDRAWN',
    proposedBy: actorView(ctx, row.proposedBy, 'ADMIN'), proposedAt: row.proposedAt,
    confirmedBy: row.confirmedBy === null ? null : actorView(ctx, row.confirmedBy, 'ADMIN'), confirmedAt: row.confirmedAt,
    withdrawnBy: row.withdrawnBy === null ? null : actorView(ctx, row.withdrawnBy, 'ADMIN'), withdrawnAt: row.withdrawnAt,
    withdrawalReason: row.withdrawalReason,
  };
}

/** The waiting terms change of each unit, per request (ADMINs list units with it). */
const openTermsChangeLoaders = new WeakMap<object, DataLoader<number, UnitTermsChangeRow | null>>();
function openTermsChangeOfUnit(ctx: Context): DataLoader<number, UnitTermsChangeRow | null> {
  let loader = openTermsChangeLoaders.get(ctx.loaders);
  if (!loader) {
    loader = new DataLoader(async (ids) => {
      const open = new Map((await store.openUnitTermsChanges(ctx.db, ids)).map((c) => [c.unitId, c]));
      return ids.map((id) => open.get(id) ?? null);
    });
    openTermsChangeLoaders.set(ctx.loaders, loader);
  }
  return loader;
}

export const memberResolvers: DomainResolvers = {
  Query: {
    units: (_root, { filter, ...args }, ctx) => {
      if (ctx.principal.role !== 'UNIT_OPERATOR' && ctx.principal.role !== 'MEMBER') requireRole(ctx, READ_ALL, 'units');
      const page = readPage(args);
      const unitFilter = { name: filter?.name, planType: filter?.planType, creditCode: filter?.creditCode };
      const scope = scopeOf(ctx.principal);
      return store.listUnits(ctx.reads, scope, unitFilter, page).then((rows) => ({
        ...toConnection(rows, page, (u) => u.id),
        count: () => store.countUnits(ctx.reads, scope, unitFilter),
      }));
    },
    // Lookups answer null for what is missing or out of scope, as `node` does: one absent object never blanks the page.
    // (The unit loader is unscoped, for members' own units: this lookup reads within the caller's scope.)
    unit: (_root, { id }, ctx) => memberNodes.Unit(ctx, localId('id', id, 'Unit')),
    members: async (_root, { filter, ...args }, ctx) => {
      const page = readPage(args, store.MEMBER_ORDER);
      if (filter?.idNumber) check('filter.idNumber', residentIdProblem(filter.idNumber.trim().toUpperCase()));
      const memberFilter: store.MemberFilter = {
        name: filter?.name,
        unitId: filter?.unitId ? localId('filter.unitId', filter.unitId, 'Unit') : null,
        planYear: filter?.planYear,
        plan: filter?.plan,
        idNumberHash: filter?.idNumber ? lookupHash(ctx.keys, filter.idNumber) : null,
      };
      const scope = scopeOf(ctx.principal);
      const rows = await store.listMembers(ctx.reads, scope, memberFilter, page);
      for (const row of rows) ctx.loaders.member.prime(row.id, row);
      return { ...toConnection(rows, page, (m) => m.id), count: () => store.countMembers(ctx.reads, scope, memberFilter) };
    },
    member: (_root, { id }, ctx) => ctx.loaders.member.load(localId('id', id, 'Member')),
    rosterImport: async (_root, { id }, ctx) => {
      const importId = localId('id', id, 'RosterImport');
      const row = await ctx.loaders.rosterImport.load(importId);
      return row && (await mayReadRosterImport(ctx, importId)) ? row : null;
    },
  },

  Mutation: {
    requestUpload: (_root, { input }, ctx) => {
      (HUB_UPLOADS.has(input.purpose) ? requireHubRole : requireRole)(ctx, UPLOAD_ROLES[input.purpose], `requestUpload for ${input.purpose}`);
      return { upload: uploadUrl(ctx, input.purpose) };
    },
    createUnit: async (_root, { input }, ctx) => {
      requireRole(ctx, ['ADMIN'], 'createUnit');
      const creditCode = input.creditCode.trim().toUpperCase();
      const name = input.name.trim();
      checkAll({ 'input.creditCode': creditCodeProblem(creditCode), 'input.name': unitNameProblem(name) });
      const organisationId = input.organisationId == null ? null : localId('input.organisationId', input.organisationId, 'Organisation');
      const unit = await registerUnit(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), {
        creditCode, name, planType: input.planType, unitType: input.unitType ?? null, smallMicro: input.smallMicro ?? false, organisationId,
      });
      return { unit };
    },
    updateUnit: async (_root, { input }, ctx) => {
      requireRole(ctx, UNIT_TERMS_ADMINS, 'updateUnit');
      const id = localId('input.unitId', input.unitId, 'Unit');
      const name = input.name?.trim();
      if (name !== undefined) check('input.name', unitNameProblem(name));
      // The terms are only proposed, with a reason, for a second ADMIN to confirm (confirmUnitTermsChange).
      const terms = { planType: input.planType ?? null, unitType: input.unitType ?? null, smallMicro: input.smallMicro ?? null };
      const givesTerms = terms.planType !== null || terms.unitType !== null || terms.smallMicro !== null;
      const reason = givesTerms || input.reason != null ? reasonOf('input.reason', input.reason ?? '') : null;
      const actor = actorOf(ctx.principal);
      return inTransaction(ctx.db, async (tx) => {
        // Renamed at once; locked either way, so a terms change confirmed meanwhile is waited for and the terms compared are the unit's.
        const unit = await store.updateUnit(tx, id, scopeOf(ctx.principal), { name });
        if (!unit) throw notFound('unit', 'input.unitId');
        if (name !== undefined) {
          await recordAudit(tx, actor, { action: 'unit.update', targetType: 'Unit', targetId: String(id), reason, details: { name } });
        }
        // A value the unit has already is not proposed; terms never confirmed are proposed whole, for the
        // second ADMIN to confirm all of them (the database confirms them only so: 0076).
        const proposed = !unit.termsConfirmed ? {
          planType: terms.planType ?? unit.planType, unitType: terms.unitType ?? unit.unitType, smallMicro: terms.smallMicro ?? unit.smallMicro,
        } : {
          planType: terms.planType !== null && terms.planType !== unit.planType ? terms.planType : null,
          unitType: terms.unitType !== null && terms.unitType !== unit.unitType ? terms.unitType : null,
          smallMicro: terms.smallMicro !== null && terms.smallMicro !== unit.smallMicro ? terms.smallMicro : null,
        };
        if (proposed.planType !== null || proposed.unitType !== null || proposed.smallMicro !== null) {
          const change = await store.insertUnitTermsChange(tx, { unitId: id, ...proposed, reason: reason!, proposedBy: actor.subject });
          if (!change) throw conflict('input.unitId: a change of the unit\'s terms is waiting for confirmation already: confirm or withdraw it first', 'input.unitId');
          await recordAudit(tx, actor, {
            action: 'unit.terms.propose', targetType: 'Unit', targetId: String(id), reason,
            details: { changeId: change.id, before: { planType: unit.planType, unitType: unit.unitType, smallMicro: unit.smallMicro }, proposed },
          });
        }
        return { unit };
      });
    },
    confirmUnitTermsChange: async (_root, { input }, ctx) => {
      requireRole(ctx, UNIT_TERMS_ADMINS, 'confirmUnitTermsChange');
      const id = localId('input.unitId', input.unitId, 'Unit');
      // The DateTime scalar refused anything but a date and time before this runs.
      const proposedAt = new Date(input.proposedAt);
      const confirmed = await confirmTermsChange(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), id, proposedAt);
      ctx.loaders.unit.clear(id);
      return { change: termsChangeView(ctx, confirmed.change), unit: confirmed.unit };
    },
    withdrawUnitTermsChange: async (_root, { input }, ctx) => {
      requireRole(ctx, UNIT_TERMS_ADMINS, 'withdrawUnitTermsChange');
      const id = localId('input.unitId', input.unitId, 'Unit');
      const reason = reasonOf('input.reason', input.reason);
      const scope = scopeOf(ctx.principal);
      const actor = actorOf(ctx.principal);
      // Its proposer or another ADMIN in scope: withdrawing changes no terms, so four eyes are not needed.
      return inTransaction(ctx.db, async (tx) => {
        if (!(await store.lockUnitInScope(tx, id, scope))) throw notFound('unit', 'input.unitId');
        const waiting = await store.lockOpenUnitTermsChange(tx, id);
        if (!waiting) throw conflict(`input.unitId: ${NONE_WAITING}`, 'input.unitId');
        const withdrawn = await store.withdrawUnitTermsChange(tx, waiting.id, actor.subject, reason);
        await recordAudit(tx, actor, {
          action: 'unit.terms.withdraw', targetType: 'Unit', targetId: String(id), reason,
          details: { changeId: waiting.id, proposedBy: waiting.proposedBy, proposedAt: waiting.proposedAt },
        });
        const [unit] = await store.unitsByIds(tx, [id], scope);
        return { change: termsChangeView(ctx, withdrawn), unit: unit! };
      });
    },
    createMember: async (_root, { input }, ctx) => {
      requireRole(ctx, MANAGE_MEMBERS, 'createMember');
      // Every bad field at once, before the unit is looked up.
      const fields = checkedMemberFields({
        name: input.name, idNumber: input.idNumber, phone: input.phone,
        bankCard: input.bankAccount?.cardNumber, bankCode: input.bankAccount?.bankCode,
      }) as MemberFields;
      const unit = await visibleUnit(ctx, 'input.unitId', input.unitId);
      requireOwnUnit(ctx, unit.id);
      const protectedMember = protectMember(ctx.keys, unit.id, {
        ...fields, phone: fields.phone ?? null, bankCard: fields.bankCard ?? null, bankCode: fields.bankCode ?? null,
      });
      return inTransaction(ctx.db, async (tx) => {
        const member = await store.insertMember(tx, protectedMember);
        if (!member) {
          // Refused as every path refuses another unit's member, whoever asks: the caller learns no more than that.
          const elsewhere = (await store.unitOfIdNumber(tx, protectedMember.idNumberHash)) !== unit.id;
          throw conflict(elsewhere ? `input.idNumber: ${REGISTERED_ELSEWHERE}` : 'a member with this ID number already exists', 'input.idNumber');
        }
        await recordAudit(tx, actorOf(ctx.principal), { action: 'member.create', targetType: 'Member', targetId: String(member.id), details: { unitId: unit.id } });
        return { member };
      });
    },
    updateMember: async (_root, { input }, ctx) => {
      requireRole(ctx, MANAGE_MEMBERS, 'updateMember');
      const value = checkedMemberFields(
        { name: input.name, phone: input.phone, bankCard: input.bankAccount?.cardNumber, bankCode: input.bankAccount?.bankCode },
        { partial: true },
      );
      const member = await visibleMember(ctx, 'input.memberId', input.memberId);
      return inTransaction(ctx.db, async (tx) => {
        await lockForChange(tx, ctx, member);
        const updated = await store.changeMember(tx, member.id, member.unitId, {
          name: value.name, phone: value.phone,
          bankCard: value.bankCard && value.bankCode ? protectBankCard(ctx.keys, value.bankCard, value.bankCode) : null,
        }, { actor: actorOf(ctx.principal), action: 'member.update' });
        if (!updated) throw notFound('member', 'input.memberId');
        await recordAudit(tx, actorOf(ctx.principal), {
          action: 'member.update', targetType: 'Member', targetId: String(member.id), details: changeDetails(updated.changes),
        });
        await recordChangeAlerts(tx, updated.member, updated.changes, actorOf(ctx.principal), ctx.config.BANK_CARD_COOLING_OFF_DAYS);
        return { member: updated.member };
      });
    },
    moveMember: async (_root, { input }, ctx) => {
      requireRole(ctx, ['ADMIN'], 'moveMember');
      const reason = reasonOf('input.reason', input.reason);
      const member = await visibleMember(ctx, 'input.memberId', input.memberId);
      const unit = await visibleUnit(ctx, 'input.unitId', input.unitId);
      check('input.unitId', unit.id === member.unitId ? 'is already the member\'s unit' : null);
      // Its terms would decide the member's next enrolments (none is made in it meanwhile: eligibility.ts).
      if (!unit.termsConfirmed) throw conflict(`input.unitId: ${UNIT_TERMS_WAITING}`, 'input.unitId');
      return inTransaction(ctx.db, async (tx) => {
        if (!(await store.lockUnitForMove(tx, member.unitId))) {
          throw conflict('a roster import is merging the member\'s unit: move the member once it is done', 'input.memberId');
        }
        await lockForChange(tx, ctx, member);
        const moved = await store.changeMember(tx, member.id, member.unitId, { unitId: unit.id }, { actor: actorOf(ctx.principal), action: 'member.move', reason });
        if (!moved) throw notFound('member', 'input.memberId');
        await recordAudit(tx, actorOf(ctx.principal), {
          action: 'member.move', targetType: 'Member', targetId: String(member.id), reason,
          details: { fromUnitId: member.unitId, toUnitId: unit.id, ...changeDetails(moved.changes) },
        });
        return { member: moved.member };
      });
    },
    changeMyBankAccount: async (_root, { input }, ctx) => {
      requireRole(ctx, ['MEMBER'], 'changeMyBankAccount');
      const member = await changeOwnBankAccount(
        ctx.db, ctx.keys, actorOf(ctx.principal), ctx.principal.memberId!, input, ctx.config.BANK_CARD_COOLING_OFF_DAYS,
      );
      return { member };
    },
    confirmBankCardChange: async (_root, { input }, ctx) => {
      requireRole(ctx, ['ADMIN', 'FINANCE'], 'confirmBankCardChange');
      const reason = reasonOf('input.reason', input.reason);
      const member = await visibleMember(ctx, 'input.memberId', input.memberId);
      return inTransaction(ctx.db, async (tx) => {
        await lockForChange(tx, ctx, member);
        let confirmed: MemberRow | null;
        try {
          confirmed = await store.confirmBankCardChange(tx, member.id, new Date(input.changedAt), ctx.principal.subject);
        } catch (error) {
          // The database's four-eyes checks: the person who replaced the account cannot confirm it
          // (0007), and nobody can confirm one a service replaced (0068): whoever drove it is unknown.
          const { constraint } = error as { constraint?: string };
          if (constraint === 'members_bank_card_service_change') {
            throw forbidden('a service (a SERVICE token or the hub command) replaced this bank account: no one can confirm it, ' +
              'since whoever drove the service is unknown; it is paid once its cooling-off has passed (BANK_CARD_COOLING_OFF_DAYS) ' +
              'and the member was told of it by SMS');
          }
          if (constraint !== 'members_bank_card_confirmation') throw error;
          throw forbidden('you replaced this bank account: another ADMIN or FINANCE must confirm it');
        }
        if (!confirmed) {
          const [now] = await store.membersByIds(tx, [member.id], scopeOf(ctx.principal));
          if (now?.bankCardChangedAt && !now.bankCardConfirmedBy) {
            throw conflict('the bank account was replaced again after the one checked: read the member again and check the new account', 'input.changedAt');
          }
          throw conflict('no replaced bank account of this member is waiting for confirmation', 'input.memberId');
        }
        await recordAudit(tx, actorOf(ctx.principal), {
          action: 'member.confirmBankCard', targetType: 'Member', targetId: String(member.id), reason,
          details: {
            bankAccount: `${confirmed.bankCardMasked} / ${confirmed.bankCode}`,
            changedBy: confirmed.bankCardChangedBy, changedAt: confirmed.bankCardChangedAt,
          },
        });
        return { member: confirmed };
      });
    },
    enrolMember: async (_root, { input }, ctx) => {
      requireRole(ctx, MANAGE_MEMBERS, 'enrolMember');
      const today = chinaToday(); // back-dating is measured from the day it is recorded, never from the caller's
      const enrolledOn = input.enrolledOn ?? defaultEnrolmentDate(input.planYear, today);
      checkAll({ 'input.planYear': planYearProblem(input.planYear), 'input.enrolledOn': isIsoDate(enrolledOn) ? null : 'must be a date yyyy-MM-dd' });
      const member = await visibleMember(ctx, 'input.memberId', input.memberId);
      const unit = (await ctx.loaders.unit.load(member.unitId))!;
      const { row } = await enrol(ctx.db, actorOf(ctx.principal), ctx.loaders.ruleSets, {
        member, unit, scope: scopeOf(ctx.principal), planYear: input.planYear, plan: input.plan ?? null, specialDisease: input.specialDisease ?? false,
        enrolledOn, inService: input.inService ?? true, override: input.override ?? null,
        memberCategories: input.memberCategories == null ? null : distinctCategories('input.memberCategories', input.memberCategories),
      }, today);
      return { enrolment: row };
    },
    setEnrolmentCategories: async (_root, { input }, ctx) => {
      requireRole(ctx, CATEGORY_EDITORS, 'setEnrolmentCategories');
      const enrolmentId = localId('input.enrolmentId', input.enrolmentId, 'Enrolment');
      const categories = distinctCategories('input.memberCategories', input.memberCategories);
      const reason = reasonOf('input.reason', input.reason);
      check('input.reason', reason.length <= 500 ? null : 'must be at most 500 characters');
      return inTransaction(ctx.db, async (tx) => {
        const changed = await store.setEnrolmentCategories(tx, enrolmentId, scopeOf(ctx.principal), categories, actorOf(ctx.principal).subject);
        if (!changed) throw notFound('enrolment', 'input.enrolmentId');
        await recordAudit(tx, actorOf(ctx.principal), {
          action: 'enrolment.categories', targetType: 'Enrolment', targetId: String(enrolmentId), reason,
          details: { memberId: changed.row.memberId, before: changed.before, after: changed.row.memberCategories },
        });
        ctx.loaders.enrolment.clear(enrolmentId);
        return { enrolment: changed.row };
      });
    },
    recordContributionPayment: async (_root, { input }, ctx) => {
      requireRole(ctx, ['ADMIN', 'FINANCE'], 'recordContributionPayment');
      const reference = input.reference.trim();
      checkAll({
        'input.planYear': planYearProblem(input.planYear),
        'input.amountFen': Number.isSafeInteger(input.amountFen) && input.amountFen > 0 ? null : 'must be a positive whole number of fen',
        'input.reference': reference.length >= 1 && reference.length <= 35 ? null : 'must be 1 to 35 characters',
        'input.paidOn': isIsoDate(input.paidOn) ? null : 'must be a date yyyy-MM-dd',
      });
      const unit = await visibleUnit(ctx, 'input.unitId', input.unitId);
      // Proposed when it needs a second person (manualPayments.ts): the contribution shows it once confirmed. Recorded
      // at once, it covers no enrolment, so no claim is due to be decided again (a confirmation queues them).
      await recordManualPayment(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), {
        unitId: unit.id, planYear: input.planYear, amountFen: input.amountFen, reference, paidOn: input.paidOn,
      }, ctx.config.FOUR_EYES_ABOVE_FEN);
      return { contribution: { unitId: unit.id, planYear: input.planYear } };
    },
    revealMemberPersonalData: async (_root, { input }, ctx) => {
      requireRole(ctx, REVEAL, 'revealMemberPersonalData');
      const reason = reasonOf('input.reason', input.reason);
      const member = await visibleMember(ctx, 'input.memberId', input.memberId);
      return inTransaction(ctx.db, async (tx) => {
        const secrets = await store.memberSecrets(tx, member.id);
        if (!secrets) throw notFound('member', 'input.memberId');
        await recordAudit(tx, actorOf(ctx.principal), {
          action: 'member.reveal', targetType: 'Member', targetId: String(member.id), reason,
          details: { fields: secrets.bankCardEnc ? ['idNumber', 'bankCardNumber'] : ['idNumber'] },
        });
        const personalData = {
          member,
          idNumber: decrypt(ctx.keys, secrets.idNumberEnc),
          bankCardNumber: secrets.bankCardEnc ? decrypt(ctx.keys, secrets.bankCardEnc) : null,
        };
        return { personalData };
      });
    },
    importRoster: async (_root, { input }, ctx) => {
      requireRole(ctx, MANAGE_MEMBERS, 'importRoster');
      const unitId = input.unitId ? (await visibleUnit(ctx, 'input.unitId', input.unitId)).id : ctx.principal.unitId;
      if (unitId !== null) requireOwnUnit(ctx, unitId);
      const fileName = input.fileName.trim();
      checkAll({ 'input.fileName': fileName.length >= 1 && fileName.length <= 255 ? null : 'must be 1 to 255 characters', ...rosterFileProblems(input) });
      const upload = input.uploadId == null ? null : await takeUpload(ctx, 'input.uploadId', input.uploadId, 'ROSTER_IMPORT');
      const { bytes, csv, failure } = await rosterText(input, upload?.bytes ?? null);
      // A file that is not text is kept FAILED with its reason, like a file the worker refuses.
      const importId = await store.insertUploadedRoster(ctx.db, {
        fileName, sha256: createHash('sha256').update(bytes).digest(), contentEnc: csv === null ? null : encrypt(ctx.keys, csv),
        defaultUnitId: unitId, onlyUnitId: ctx.principal.role === 'UNIT_OPERATOR' ? ctx.principal.unitId : null,
        onlyOrganisationId: scopeOf(ctx.principal).organisationId,
        createdBy: actorOf(ctx.principal), failure,
      });
      if (failure === null) await enqueueRosterImport(ctx.queues.rosterImport, importId);
      await upload?.discard();
      return { rosterImport: (await ctx.loaders.rosterImport.load(importId))! };
    },
  },

  Unit: {
    id: (unit) => toGlobalId('Unit', unit.id),
    members: async (unit, { filter, ...args }, ctx) => {
      const page = readPage(args, store.MEMBER_ORDER);
      const memberFilter = { name: filter?.name, planYear: filter?.planYear, plan: filter?.plan };
      const rows = await ctx.loaders.membersOfUnit.load({ parentId: unit.id, args: { filter: memberFilter, page } });
      return {
        ...toConnection(rows, page, (m) => m.id),
        count: () => store.countMembers(ctx.reads, scopeOf(ctx.principal), { ...memberFilter, unitId: unit.id }),
      };
    },
    // A unit reached through a member's past enrolment, claim or payout may lie outside the caller's subtree: no change of it shown.
    pendingTermsChange: async (unit, _args, ctx) => {
      if (!hasRole(ctx, UNIT_TERMS_ADMINS)) return null;
      if (!(await withinCallerOrganisation(ctx, unit.organisationId))) return null;
      const waiting = await openTermsChangeOfUnit(ctx).load(unit.id);
      return waiting && termsChangeView(ctx, waiting);
    },
    contribution: async (unit, { planYear }, ctx) => {
      check('planYear', planYearProblem(planYear));
      const refusal = await contributionRefusal(ctx, unit);
      if (refusal) throw refusal;
      return { unitId: unit.id, planYear };
    },
  },

  UnitConnection: {
    totalCount: countedTotal,
  },
  MemberConnection: {
    totalCount: countedTotal,
  },
  MemberChangeConnection: {
    totalCount: countedTotal,
  },
  EnrolmentConnection: {
    totalCount: countedTotal,
  },

  Member: {
    id: (member) => toGlobalId('Member', member.id),
    bankAccount: (member, _args, ctx) => bankAccountOf(ctx, member),
    changes: async (member, args, ctx) => {
      requireRole(ctx, READ_CHANGES, 'Member.changes');
      const page = readPage(args);
      const rows = await ctx.loaders.changesOfMember.load({ parentId: member.id, args: { page } });
      const connection = toConnection(rows, page, (c) => c.id);
      return {
        ...connection, edges: connection.edges.map((e) => ({ ...e, node: memberChangeNode(e.node) })),
        count: () => ctx.loaders.changeCountOfMember.load(member.id),
      };
    },
    unit: async (member, _args, ctx) => (await ctx.loaders.unit.load(member.unitId))!,
    enrolments: async (member, { filter, ...args }, ctx) => {
      const page = readPage(args);
      const enrolmentFilter = { planYear: filter?.planYear, plan: filter?.plan };
      const rows = await ctx.loaders.enrolmentsOfMember.load({ parentId: member.id, args: { filter: enrolmentFilter, page } });
      return {
        ...toConnection(rows, page, (e) => e.planYear),
        count: () => ctx.loaders.enrolmentCountOfMember.load({ parentId: member.id, args: enrolmentFilter }),
      };
    },
    firstEnrolledOn: async (member, _args, ctx) => {
      const [latest] = await ctx.loaders.enrolmentsOfMember.load({ parentId: member.id, args: { filter: {}, page: firstRows(1) } });
      return latest?.firstEnrolledOn ?? null;
    },
    // The member is in the caller's scope (it was read through it): the role decides, as in the mutations.
    viewerCanRevealPersonalData: (_member, _args, ctx) => hasRole(ctx, REVEAL),
    viewerCanEdit: (_member, _args, ctx) => hasRole(ctx, MANAGE_MEMBERS),
  },

  Enrolment: {
    id: (enrolment) => toGlobalId('Enrolment', enrolment.id),
    member: async (enrolment, _args, ctx) => {
      const member = await ctx.loaders.member.load(enrolment.memberId);
      if (!member) throw notFound('member');
      return member;
    },
    unit: async (enrolment, _args, ctx) => (await ctx.loaders.unit.load(enrolment.unitId))!,
    waitingPeriodEndsOn: async (enrolment, _args, ctx) =>
      waitingPeriodEndsOn(enrolment, await ctx.loaders.ruleSetOfEnrolment.load({ unitId: enrolment.unitId, planYear: enrolment.planYear, on: enrolment.enrolledOn })),
    contributionFen: (enrolment) => enrolmentContributionFen(enrolment.plan, enrolment.specialDisease),
    // Staff's record of why an ADMIN let it through: not the member's to read.
    override: ({ override }, _args, ctx) => (override && ctx.principal.role !== 'MEMBER'
      ? { rules: override.rules, reason: override.reason, by: actorView(ctx, override.by, 'ADMIN'), at: new Date(override.at) }
      : null),
    contributionPaid: async (enrolment, _args, ctx) => {
      const figures = await ctx.loaders.contribution.load({ unitId: enrolment.unitId, planYear: enrolment.planYear });
      return contributionStatus(figures.owedFen, figures.paidFen) === 'PAID';
    },
  },

  Contribution: {
    id: (key) => toGlobalId('Contribution', contributionKey(key)),
    unit: async (key, _args, ctx) => (await ctx.loaders.unit.load(key.unitId))!,
    planYear: (key) => key.planYear,
    enrolled: async (key, _args, ctx) => (await ctx.loaders.contribution.load(key)).enrolled,
    owedFen: async (key, _args, ctx) => (await ctx.loaders.contribution.load(key)).owedFen,
    paidFen: async (key, _args, ctx) => (await ctx.loaders.contribution.load(key)).paidFen,
    status: async (key, _args, ctx) => {
      const figures = await ctx.loaders.contribution.load(key);
      return contributionStatus(figures.owedFen, figures.paidFen);
    },
    paymentReference: async (key, _args, ctx) => contributionReference((await ctx.loaders.unit.load(key.unitId))!.creditCode, key.planYear),
    payments: async (key, _args, ctx) => (await ctx.loaders.contributionPayments.load(key)).map(paymentNode),
  },

  RosterImport: {
    id: (row) => toGlobalId('RosterImport', row.id),
    errors: (row, _args, ctx) => store.rosterImportErrors(ctx.db, row.id),
  },
};

export async function mayReadRosterImport(ctx: Context, importId: number): Promise<boolean> {
  const scope = scopeOf(ctx.principal);
  // An organisation's staff see the imports made inside their subtree only.
  if (scope.organisationId !== null && hasRole(ctx, ['ADMIN', 'AUDITOR'])) return store.isRosterImportInScope(ctx.db, importId, scope);
  if (ctx.principal.role === 'ADMIN' || ctx.principal.role === 'SERVICE' || ctx.principal.role === 'AUDITOR') return true;
  return ctx.principal.role === 'UNIT_OPERATOR' && store.isRosterImportOfUnit(ctx.db, importId, ctx.principal.unitId);
}

/** Audit details of a member's changes: the fields, the bank account masked, and the member_changes rows. */
function changeDetails(changes: RecordedChange[]): Record<string, unknown> {
  const account = changes.find((c) => c.field === 'BANK_ACCOUNT');
  return {
    changed: changes.map((c) => c.field),
    ...(account ? { bankAccount: { before: account.before, after: account.after } } : {}),
    memberChanges: changes.map((c) => c.id),
  };
}

export type UnitConnectionResult = CountedConnection<UnitRow>;
export type MemberConnectionResult = CountedConnection<MemberRow>;
export type MemberChangeConnectionResult = CountedConnection<ReturnType<typeof memberChangeNode>>;
export type EnrolmentConnectionResult = CountedConnection<EnrolmentRow>;

function memberChangeNode(row: MemberChangeRow) {
  return {
    id: toGlobalId('MemberChange', row.id), at: row.at, field: row.field, before: row.before, after: row.after, actor: row.actor, actorRole: row.role as Role,
    action: CHANGE_ACTION[row.action], reason: row.reason, rosterImportId: row.importId === null ? null : toGlobalId('RosterImport', row.importId),
  };
}

const CHANGE_ACTION: Record<MemberChangeRow['action'], MemberChangeAction> = {
  'roster.import': 'ROSTER_IMPORT', 'member.update': 'MEMBER_UPDATE', 'member.move': 'MEMBER_MOVE',
};

/** The member's account as the API shows it (masked), with an id of its own from the member's; null without one. */
function bankAccountOf(ctx: Context, member: MemberRow) {
  return member.bankCardMasked && member.bankCode
    ? {
        id: toGlobalId('BankAccount', member.id),
        cardNumberMasked: member.bankCardMasked, bankCode: member.bankCode,
        changedAt: member.bankCardChangedAt, changedBy: member.bankCardChangedBy,
        changer: member.bankCardChangedBy === null ? null : actorView(ctx, member.bankCardChangedBy),
        confirmedAt: member.bankCardConfirmedAt, confirmedBy: member.bankCardConfirmedBy,
        confirmer: member.bankCardConfirmedBy === null ? null : actorView(ctx, member.bankCardConfirmedBy),
        payableFrom: payableFrom(member, ctx.config.BANK_CARD_COOLING_OFF_DAYS),
      }
    : null;
}

/**
 * Who may read a unit's contribution: staff (an organisation's only of its subtree's units), and a unit
 * operator only their own unit's (a member reads their own records only).
 */
async function contributionRefusal(ctx: Context, unit: Pick<UnitRow, 'id' | 'organisationId'>) {
  const { role, unitId: ownUnit } = ctx.principal;
  if (role === 'UNIT_OPERATOR' && ownUnit !== unit.id) return forbidden('you may only see your own unit\'s contribution');
  if (role === 'MEMBER') return forbidden('a member sees their own records, not their unit\'s finances');
  // The unscoped unit of a member's past enrolment, claim or payout may lie outside the caller's organisation: as missing.
  if (!(await withinCallerOrganisation(ctx, unit.organisationId))) return notFound('unit');
  return null;
}

const paymentNode = (payment: StoredContributionPayment) => ({ ...payment, id: toGlobalId('ContributionPayment', payment.id) });

/** A contribution's key in its global ID: `<unit id>-<plan year>`. */
const contributionKey = (key: { unitId: number; planYear: number }) => `${key.unitId}-${key.planYear}`;

/** Node types of this domain known by a text key: a contribution, for whoever may read it through its unit. */
export const memberKeyedNodes = {
  Contribution: async (ctx: Context, key: string) => {
    const match = /^(\d{1,15})-(\d{4})$/.exec(key);
    if (!match) return null;
    const [unit] = await store.unitsByIds(ctx.reads, [Number(match[1])], scopeOf(ctx.principal));
    return unit && (await contributionRefusal(ctx, unit)) === null ? { unitId: unit.id, planYear: Number(match[2]) } : null;
  },
};

/** Node types of this domain, for `Query.node`. */
export const memberNodes = {
  // Seen where `Member.changes` shows it: the member in scope, and a role that reads changes.
  MemberChange: async (ctx: Context, id: number) => {
    if (!hasRole(ctx, READ_CHANGES)) return null;
    const change = await store.memberChangeById(ctx.db, id);
    return change && (await ctx.loaders.member.load(change.memberId)) ? memberChangeNode(change) : null;
  },
  // Seen where `Contribution.payments` shows it: whoever may read the unit's contribution.
  ContributionPayment: async (ctx: Context, id: number) => {
    const payment = await store.contributionPaymentById(ctx.db, id);
    const contribution = payment && await memberKeyedNodes.Contribution(ctx, contributionKey(payment));
    return payment && contribution ? paymentNode(payment) : null;
  },
  Unit: (ctx: Context, id: number) => store.unitsByIds(ctx.reads, [id], scopeOf(ctx.principal)).then((r) => r[0] ?? null),
  Member: (ctx: Context, id: number) => ctx.loaders.member.load(id),
  Enrolment: (ctx: Context, id: number) => ctx.loaders.enrolment.load(id),
  // A member's account, by the member's id: visible with the member.
  BankAccount: async (ctx: Context, id: number) => {
    const member = await ctx.loaders.member.load(id);
    return member && bankAccountOf(ctx, member);
  },
};
