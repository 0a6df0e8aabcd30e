import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { invalid } from '../kernel/errors.ts';
import type { Queryable } from '../kernel/transaction.ts';
import { validateRuleSet, type RuleSet } from './rules/ruleSet.ts';
import type { RuleSetRow } from './model.ts';
import * as store from './store.ts';

/**
 * The rule sets the hub knows: those shipped with the code (src/benefits/ruleSets/*.json, the
 * source of truth for the shipped sets, inserted into rule_sets where missing) and those the union
 * publishes beside them, under four eyes (ruleSetProposals.ts). Several versions of one id may ship; without a version the highest one is
 * meant. Stored versions are never changed, so every claim can name the version it used.
 */
const DIRECTORY = fileURLToPath(new URL('./ruleSets/', import.meta.url));

/** Every shipped rule set, read from the files and checked, ordered by id then version. */
export function listRuleSets(): RuleSet[] {
  const shipped = readdirSync(DIRECTORY)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const checked = validateRuleSet(JSON.parse(readFileSync(DIRECTORY + name, 'utf8')));
      if (!checked.ok) throw new Error(`rule set file ${name} is invalid: ${checked.errors.map((e) => `${e.field}: ${e.reason}`).join('; ')}`);
      return checked.ruleSet;
    });
  const keys = shipped.map((rs) => `${rs.id} v${rs.version}`);
  const twice = keys.find((key, i) => keys.indexOf(key) !== i);
  if (twice) throw new Error(`rule set ${twice} ships twice`);
  return shipped.sort((a, b) => a.id.localeCompare(b.id) || a.version - b.version);
}

/** A shipped rule set, as `hub benefits preview --rules` names it: an unknown one is bad input on `--rules`. */
export function loadRuleSet(id: string, version?: number): RuleSet {
  const shipped = listRuleSets();
  const candidates = shipped.filter((rs) => rs.id === id && (version === undefined || rs.version === version));
  const found = candidates.reduce<RuleSet | undefined>((best, rs) => (!best || rs.version > best.version ? rs : best), undefined);
  if (!found) {
    const known = [...new Set(shipped.map((rs) => rs.id))].join(', ');
    throw invalid('--rules', `unknown rule set ${id}${version === undefined ? '' : ` version ${version}`} (known: ${known})`);
  }
  return found;
}

/** What decides claims: a rule set but its description, which a release may reword in place. */
function rulesOf({ description: _words, ...rules }: RuleSet): Omit<RuleSet, 'description'> {
  return rules;
}

/**
 * Inserts the shipped rule sets (by default the files; a test passes a later release's) that are
 * missing (idempotent). A version stored already under a shipped id and version must hold the shipped
 * rules, published by no organisation: otherwise the year the file is assigned to would be decided by
 * something else (an organisation's version is never the year's fallback), so it fails, naming them.
 */
export async function ensureShippedRuleSets(db: Queryable, shipped: readonly RuleSet[] = listRuleSets()): Promise<void> {
  const stored = await store.insertShippedRuleSets(db, shipped);
  const taken = stored.filter((row) => row.organisationId !== null
    || !isDeepStrictEqual(rulesOf(ruleSetOf(row)), rulesOf(shipped.find((rs) => rs.id === row.ruleSetId && rs.version === row.version)!)));
  if (taken.length) {
    throw new Error(`shipped rule set ${taken.map((row) => `${row.ruleSetId} v${row.version}`).join(', ')} is stored already as other rules`
      + ' or as an organisation\'s: the shipped file cannot be loaded; ship it under a new id or version');
  }
}

/** The rule set a stored row holds, checked again (a stored definition that no longer passes is a fault, not input). */
export function ruleSetOf(row: RuleSetRow): RuleSet {
  const checked = validateRuleSet(row.definition);
  if (!checked.ok) throw new Error(`stored rule set ${row.ruleSetId} v${row.version} is invalid: ${checked.errors.map((e) => `${e.field}: ${e.reason}`).join('; ')}`);
  return checked.ruleSet;
}

/**
 * What a process keeps of the rule sets of one database: whether the shipped ones were inserted
 * (once; a failed attempt is tried again next time) and each stored version parsed (once: a stored
 * version never changes). Made by whoever adjudicates or serves the API (jobs/benefits.ts `start`,
 * the gateway) and passed in; there is no module-level cache.
 */
export class RuleSetCache {
  readonly #parsed = new Map<string, RuleSet>();
  #shipped: Promise<void> | null = null;

  ensureShipped(db: Queryable): Promise<void> {
    this.#shipped ??= ensureShippedRuleSets(db).catch((error: unknown) => {
      this.#shipped = null;
      throw error;
    });
    return this.#shipped;
  }

  ruleSetOf(row: RuleSetRow): RuleSet {
    const key = `${row.ruleSetId}@${row.version}`;
    let parsed = this.#parsed.get(key);
    if (!parsed) this.#parsed.set(key, (parsed = ruleSetOf(row)));
    return parsed;
  }
}
