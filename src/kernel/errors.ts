import type { FieldProblem } from './problems.ts';
import { characterCount, textProblem } from './text.ts';

/**
 * The one error domain code throws for a caller's mistake or a refused decision. It names what went
 * wrong in the caller's terms (`code`, `field`, `reason`); the gateway (src/gateway/errors.ts) and the
 * CLI (src/cliErrors.ts) each map it in one place. Anything else thrown is unexpected: logged with a
 * reference, never shown.
 */
export type DomainErrorCode =
  /** Bad input: `field` (a path in the input, e.g. `input.idNumber`) and `reason` say what to fix. */
  | 'BAD_USER_INPUT'
  /** The object does not exist, or the caller may not know it does. */
  | 'NOT_FOUND'
  /** The caller's role or unit may not do this. */
  | 'FORBIDDEN'
  /** The object's state (or another person's decision) refuses this now. */
  | 'CONFLICT';

export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly field: string | null = null,
    readonly reason: string | null = null,
    /** Every problem found, when there were several (the first is in `field`/`reason`). */
    readonly problems: readonly FieldProblem[] = [],
  ) {
    super(message);
  }
}

/** Bad input on `field`: the message is `field: reason`. */
export function invalid(field: string, reason: string, problems: readonly FieldProblem[] = []): DomainError {
  return new DomainError('BAD_USER_INPUT', `${field}: ${reason}`, field, reason, problems);
}

/** Every problem of an input at once (the first names the error). */
export function invalidFields(problems: readonly FieldProblem[]): DomainError {
  const [first] = problems;
  if (!first) throw new RangeError('invalidFields needs at least one problem');
  return invalid(first.field, first.reason, problems);
}

export const notFound = (what: string, field: string | null = null) => new DomainError('NOT_FOUND', `${what} not found`, field);

export const forbidden = (message: string) => new DomainError('FORBIDDEN', message);

export const conflict = (message: string, field: string | null = null) => new DomainError('CONFLICT', message, field);

/** Throws bad input on `field` when `problem` (from a validator) is not null. */
export function check(field: string, problem: string | null): void {
  if (problem) throw invalid(field, problem);
}

/** Throws bad input naming every field whose problem (from a validator) is not null: `check` for several fields at once. */
export function checkAll(problems: Record<string, string | null>): void {
  const found = Object.entries(problems).flatMap(([field, reason]) => (reason ? [{ field, reason }] : []));
  if (found.length) throw invalidFields(found);
}

/** The most a person's reason may hold: what the reason columns' CHECKs allow (and a sealed notice prints). */
export const REASON_MAX = 2000;

/** A person's optional note on a decision (audited, printed on notices), trimmed: null when blank, else at most REASON_MAX characters of storable text, else bad input on `field`. */
export function noteOf(field: string, text: string | null | undefined): string | null {
  const note = (text ?? '').trim();
  if (!note) return null;
  const characters = characterCount(note);
  check(field, characters > REASON_MAX ? `must be at most ${REASON_MAX} characters (${characters} given)` : textProblem(note));
  return note;
}

/** A person's reason for a decision (audited, printed on notices), trimmed: 4 to REASON_MAX characters of storable text, else bad input on `field`. */
export function reasonOf(field: string, text: string): string {
  const reason = text.trim();
  const characters = characterCount(reason);
  check(field, characters < 4 ? 'say why (at least 4 characters)'
    : characters > REASON_MAX ? `must be at most ${REASON_MAX} characters (${characters} given)` : textProblem(reason));
  return reason;
}
