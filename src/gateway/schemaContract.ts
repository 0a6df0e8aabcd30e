import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import {
  buildSchema, getNamedType, isEnumType, isInputObjectType, isInterfaceType, isObjectType,
  type GraphQLArgument, type GraphQLNamedType, type GraphQLSchema,
} from 'graphql';
import { chinaToday, isIsoDate } from '../kernel/time.ts';
import { publishedSchema } from './federation/compose.ts';

/**
 * The schema contract front-end teams rely on (docs/schema-contract.md): every breaking change of
 * the published schema is listed in schema/breaking-changes.json with the schema/CHANGES.md entry
 * that explains it; deprecations name their replacement and the date they may go; descriptions do
 * not cite repository files. `npm run schema:check` prints this report; `npm test` fails on it.
 */

export const PUBLISHED_PATH = 'schema/published/schema.graphql';
export const ALLOW_LIST_PATH = 'schema/breaking-changes.json';
export const CHANGELOG_PATH = 'schema/CHANGES.md';

/** One breaking change clients were told about. */
export interface AllowedBreakingChange {
  /** graphql-inspector's change type, e.g. FIELD_REMOVED. */
  type: string;
  /** The schema coordinate it reports, e.g. Query.member or Query.member.id for an argument. */
  path: string;
  /** The `## ` heading of the CHANGES.md entry, e.g. 2026-12-03. */
  changelog: string;
  /** Words of the bullet under that heading that explains the change. */
  explainedBy: string;
}

export interface AllowList {
  /** The published schema the list starts from: every breaking change since it is listed. */
  baseline: { commit: string; schema: string };
  changes: AllowedBreakingChange[];
}

/** A published schema to compare the current one with. */
export interface EarlierSchema {
  label: string;
  sdl: string;
}

export interface ContractInput {
  current: string;
  /** The allow-list's baseline first: it is always compared, so every change since it must be listed. */
  baseline: EarlierSchema;
  earlier: EarlierSchema[];
  allowList: AllowList;
  changelog: string;
  /** The date deprecation deadlines are checked against (yyyy-MM-dd). */
  today: string;
}

export interface ContractReport {
  /** What the current schema was compared with. */
  compared: string[];
  /** Said, not failed: what could not be compared and why. */
  notes: string[];
  /** Each a reason the contract is broken; empty when it holds. */
  problems: string[];
  /** Allow-list entries ready to paste for the unlisted breaking changes. */
  suggestions: AllowedBreakingChange[];
}

/** The breaking changes from one SDL to another, as graphql-inspector reports them. */
export async function breakingChanges(before: string, after: string): Promise<Change[]> {
  const changes = await diff(buildSchema(before), buildSchema(after));
  return changes.filter((change) => change.criticality.level === CriticalityLevel.Breaking);
}

const keyOf = (type: string, path: string | undefined) => `${type} ${path ?? ''}`;

export async function checkContract(input: ContractInput): Promise<ContractReport> {
  const problems = allowListProblems(input.allowList, input.changelog);
  const allowed = new Set(input.allowList.changes.map((entry) => keyOf(entry.type, entry.path)));
  const unlisted = new Map<string, { change: Change; since: string[] }>();
  const seen = new Set<string>();
  for (const earlier of [input.baseline, ...input.earlier]) {
    for (const change of await breakingChanges(earlier.sdl, input.current)) {
      const key = keyOf(change.type, change.path);
      if (earlier === input.baseline) seen.add(key);
      if (allowed.has(key)) continue;
      const entry = unlisted.get(key) ?? { change, since: [] };
      entry.since.push(earlier.label);
      unlisted.set(key, entry);
    }
  }
  for (const { change, since } of unlisted.values()) {
    problems.push(`unlisted breaking change ${change.type} ${change.path ?? ''} (since ${since.join(', ')}): ${change.message}`);
  }
  for (const entry of input.allowList.changes) {
    if (!seen.has(keyOf(entry.type, entry.path))) {
      problems.push(`${ALLOW_LIST_PATH}: ${entry.type} ${entry.path} is no breaking change since the baseline: remove the entry`);
    }
  }
  problems.push(...earlyRemovals(input.baseline.sdl, input.current, input.today));
  return {
    compared: [input.baseline.label, ...input.earlier.map((e) => e.label)],
    notes: [],
    problems,
    // Filled with the newest CHANGES.md heading: usually the entry being written.
    suggestions: [...unlisted.values()].map(({ change }) => ({
      type: change.type, path: change.path ?? '', changelog: /^## (.+)$/m.exec(input.changelog)?.[1]?.trim() ?? 'yyyy-MM-dd', explainedBy: '…',
    })),
  };
}

/** Each entry must point to a CHANGES.md heading whose text contains its `explainedBy`. */
export function allowListProblems(allowList: AllowList, changelog: string): string[] {
  const sections = new Map<string, string>();
  for (const section of changelog.split(/^## /m).slice(1)) {
    const newline = section.indexOf('\n');
    sections.set(section.slice(0, newline).trim(), section.slice(newline + 1));
  }
  const problems: string[] = [];
  for (const entry of allowList.changes) {
    const name = `${ALLOW_LIST_PATH}: ${entry.type} ${entry.path}`;
    if (!entry.type || !entry.path || !entry.explainedBy) problems.push(`${name}: type, path, changelog and explainedBy are required`);
    const section = sections.get(entry.changelog);
    if (section === undefined) problems.push(`${name}: ${CHANGELOG_PATH} has no heading "## ${entry.changelog}"`);
    else if (entry.explainedBy && !section.includes(entry.explainedBy)) {
      problems.push(`${name}: "${entry.explainedBy}" is not in ${CHANGELOG_PATH} under "## ${entry.changelog}"`);
    }
  }
  return problems;
}

const DEPRECATION = /\buse `?([A-Za-z_][\w.]*)`?.*;\s*removal not before (\d{4}-\d{2}-\d{2})\b/;

/** The removal date a deprecation reason gives, or null when it follows no policy. */
export function removalDate(reason: string): string | null {
  return DEPRECATION.exec(reason)?.[2] ?? null;
}

/**
 * Every `@deprecated` reads "use <replacement>; removal not before yyyy-MM-dd": the replacement is
 * a field (or a path of fields, `creator.subject`) beside the deprecated one, a type, or `Type.field`.
 */
export function deprecationProblems(schema: GraphQLSchema): string[] {
  const problems: string[] = [];
  const check = (coordinate: string, reason: string | null | undefined, siblings: string[], parent: GraphQLNamedType | null) => {
    if (reason === null || reason === undefined) return;
    const match = DEPRECATION.exec(reason);
    if (!match) {
      problems.push(`${coordinate}: @deprecated reason "${reason}" must read "use <replacement>; removal not before yyyy-MM-dd"`);
      return;
    }
    const [, replacement, date] = match as unknown as [string, string, string];
    if (!isIsoDate(date)) problems.push(`${coordinate}: removal date ${date} is not a date`);
    if (!replacementExists(schema, replacement, siblings, parent)) problems.push(`${coordinate}: the replacement ${replacement} is not in the schema`);
  };
  for (const type of userTypes(schema)) {
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      const fields = Object.values(type.getFields());
      for (const field of fields) {
        check(`${type.name}.${field.name}`, field.deprecationReason, fields.map((f) => f.name), type);
        const args = argsOf(field);
        for (const arg of args) check(`${type.name}.${field.name}(${arg.name})`, arg.deprecationReason, args.map((a) => a.name), null);
      }
    }
    if (isEnumType(type)) {
      const values = type.getValues();
      for (const value of values) check(`${type.name}.${value.name}`, value.deprecationReason, values.map((v) => v.name), null);
    }
  }
  return problems;
}

function replacementExists(schema: GraphQLSchema, replacement: string, siblings: string[], parent: GraphQLNamedType | null): boolean {
  const [head, ...rest] = replacement.split('.') as [string, ...string[]];
  if (siblings.includes(head)) return rest.length === 0 || (parent !== null && pathExists(parent, [head, ...rest]));
  const type = schema.getType(head);
  return type !== null && type !== undefined && pathExists(type, rest);
}

/** Whether the fields named by `path` lead from `type` to a type. */
function pathExists(type: GraphQLNamedType, path: string[]): boolean {
  let current = type;
  for (const name of path) {
    if (!(isObjectType(current) || isInterfaceType(current) || isInputObjectType(current))) return false;
    const field = current.getFields()[name];
    if (!field) return false;
    current = getNamedType(field.type);
  }
  return true;
}

/** A deprecated field or enum value removed before the date its deprecation promised. */
function earlyRemovals(before: string, after: string, today: string): string[] {
  const old = buildSchema(before);
  const current = buildSchema(after);
  const problems: string[] = [];
  for (const type of userTypes(old)) {
    const now = current.getType(type.name);
    const promised = (coordinate: string, reason: string | null | undefined, stillThere: boolean) => {
      const date = reason ? removalDate(reason) : null;
      if (date && !stillThere && today < date) problems.push(`${coordinate} was removed before ${date}, the date its deprecation promised`);
    };
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      const fields = now && (isObjectType(now) || isInterfaceType(now) || isInputObjectType(now)) ? now.getFields() : {};
      for (const field of Object.values(type.getFields())) promised(`${type.name}.${field.name}`, field.deprecationReason, field.name in fields);
    }
    if (isEnumType(type)) {
      const values = now && isEnumType(now) ? now.getValues().map((v) => v.name) : [];
      for (const value of type.getValues()) promised(`${type.name}.${value.name}`, value.deprecationReason, values.includes(value.name));
    }
  }
  return problems;
}

// Repository paths (src/…, docs/…) and file names (roster.ts, ruleSets/*.json): front-end teams see neither.
const REPOSITORY_REFERENCE = /\b(?:src|docs|test|jobs|bench|examples|schema|node_modules)\/(?:[\w./*-]*[\w*])?|[\w*/-]+\.(?:ts|json|md|graphql)\b/;

/** Descriptions are the front-end teams' manual: none may cite a file of this repository. */
export function descriptionProblems(schema: GraphQLSchema): string[] {
  const problems: string[] = [];
  const check = (coordinate: string, description: string | null | undefined) => {
    const found = description ? REPOSITORY_REFERENCE.exec(description) : null;
    if (found) problems.push(`${coordinate}: the description cites a repository file ("${found[0]}")`);
  };
  for (const directive of schema.getDirectives()) {
    check(`@${directive.name}`, directive.description);
    for (const arg of directive.args) check(`@${directive.name}(${arg.name})`, arg.description);
  }
  for (const type of userTypes(schema)) {
    check(type.name, type.description);
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        check(`${type.name}.${field.name}`, field.description);
        for (const arg of argsOf(field)) check(`${type.name}.${field.name}(${arg.name})`, arg.description);
      }
    }
    if (isEnumType(type)) for (const value of type.getValues()) check(`${type.name}.${value.name}`, value.description);
  }
  return problems;
}

/** A field's arguments; an input field has none. */
const argsOf = (field: { args?: readonly GraphQLArgument[] }): readonly GraphQLArgument[] => field.args ?? [];

function userTypes(schema: GraphQLSchema): GraphQLNamedType[] {
  return Object.values(schema.getTypeMap()).filter((type) => !type.name.startsWith('__'));
}

/** A file as committed at `revision`, or the reason it cannot be read (no git, a shallow clone, no such commit). */
function gitShow(root: string, revision: string, path: string): { text: string } | { missing: string } {
  const run = spawnSync('git', ['-C', root, 'show', `${revision}:${path}`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error) return { missing: `git is not available (${run.error.message})` };
  if (run.status !== 0) return { missing: run.stderr.trim().split('\n')[0] ?? `git show ${revision} failed` };
  return { text: run.stdout };
}

function shortCommit(root: string, revision: string): string {
  const run = spawnSync('git', ['-C', root, 'rev-parse', '--short', revision], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : revision;
}

/**
 * The published schema of the previous commit (in CI, HEAD is the change under test) and, when the
 * working tree changed it, of HEAD. When history is missing (a shallow clone, the first commit,
 * no git) it says so: the allow-list's baseline is then the only comparison.
 */
export function earlierSchemas(root: string, current: string): { earlier: EarlierSchema[]; notes: string[] } {
  const earlier: EarlierSchema[] = [];
  const notes: string[] = [];
  const previous = gitShow(root, 'HEAD~1', PUBLISHED_PATH);
  if ('text' in previous) earlier.push({ label: `HEAD~1 ${shortCommit(root, 'HEAD~1')}`, sdl: previous.text });
  else notes.push(`the previous commit's schema cannot be read (${previous.missing}): compared with the allow-list's baseline instead`);
  const head = gitShow(root, 'HEAD', PUBLISHED_PATH);
  if ('text' in head && head.text !== current) earlier.push({ label: `HEAD ${shortCommit(root, 'HEAD')} (the working tree differs)`, sdl: head.text });
  return { earlier, notes };
}

/** The whole check over this repository: what `npm run schema:check` prints and `npm test` asserts. */
export async function contractReport(root: string, today = chinaToday()): Promise<ContractReport> {
  const read = (path: string) => readFileSync(resolve(root, path), 'utf8');
  const allowList = JSON.parse(read(ALLOW_LIST_PATH)) as AllowList;
  const current = publishedSchema();
  const baseline = { label: `baseline ${allowList.baseline.commit.slice(0, 7)}`, sdl: read(allowList.baseline.schema) };
  const { earlier, notes } = earlierSchemas(root, current);
  const report = await checkContract({ current, baseline, earlier, allowList, changelog: read(CHANGELOG_PATH), today });
  const schema = buildSchema(current);
  report.problems.push(...deprecationProblems(schema), ...descriptionProblems(schema));
  // The snapshot is trusted because it is the baseline commit's file: checked whenever history has it.
  const original = gitShow(root, allowList.baseline.commit, PUBLISHED_PATH);
  if ('missing' in original) notes.push(`the baseline commit cannot be read (${original.missing}): its snapshot ${allowList.baseline.schema} is taken as committed`);
  else if (original.text !== baseline.sdl) report.problems.push(`${allowList.baseline.schema} is not ${PUBLISHED_PATH} of ${allowList.baseline.commit}`);
  return { ...report, notes: [...notes, ...report.notes] };
}

export function formatReport(report: ContractReport): string {
  const lines = [`compared the published schema with: ${report.compared.join('; ')}`];
  for (const note of report.notes) lines.push(`note: ${note}`);
  if (report.problems.length === 0) lines.push('the schema contract holds');
  for (const problem of report.problems) lines.push(`✗ ${problem}`);
  if (report.suggestions.length > 0) {
    lines.push(`Each breaking change needs a ${CHANGELOG_PATH} line and an entry in ${ALLOW_LIST_PATH} "changes", e.g.:`);
    for (const suggestion of report.suggestions) lines.push(`  ${JSON.stringify(suggestion)},`);
  }
  return lines.join('\n');
}

// `npm run schema:check`: the report, exit 1 when the contract is broken.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const report = await contractReport(process.cwd());
  console.log(formatReport(report));
  process.exitCode = report.problems.length > 0 ? 1 : 0;
}
