import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateRuleSet, type RuleSet } from './ruleSet.ts';

/**
 * The rule sets shipped with the code (src/benefits/ruleSets/*.json), read once on first use.
 * Several versions of one id may ship; without a version the highest one is meant.
 */
const DIRECTORY = fileURLToPath(new URL('../ruleSets/', import.meta.url));

export class UnknownRuleSetError extends Error {}

let shipped: RuleSet[] | undefined;

function shippedRuleSets(): RuleSet[] {
  shipped ??= readdirSync(DIRECTORY)
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
  return shipped;
}

/** Every shipped rule set, ordered by id then version. */
export function listRuleSets(): RuleSet[] {
  return [...shippedRuleSets()].sort((a, b) => a.id.localeCompare(b.id) || a.version - b.version);
}

export function loadRuleSet(id: string, version?: number): RuleSet {
  const candidates = shippedRuleSets().filter((rs) => rs.id === id && (version === undefined || rs.version === version));
  const found = candidates.reduce<RuleSet | undefined>((best, rs) => (!best || rs.version > best.version ? rs : best), undefined);
  if (!found) {
    const known = [...new Set(listRuleSets().map((rs) => rs.id))].join(', ');
    throw new UnknownRuleSetError(`unknown rule set ${id}${version === undefined ? '' : ` version ${version}`} (known: ${known})`);
  }
  return found;
}
