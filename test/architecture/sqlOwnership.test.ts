// Where SQL may live, and who may write which table (docs/layers.md): every table is written
// (INSERT, UPDATE, DELETE, COPY … FROM) only by its owning domain's store; SQL text lives only in
// stores, src/db/ and src/audit/. Another domain that must change those rows calls the owner's
// exported function.
//
// The scan reads the string and template literals of src/ and jobs/ (comments are not SQL), with
// the project's convention that SQL keywords are written in capitals.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

const DOMAINS = ['members', 'settlements', 'benefits', 'payouts', 'reconciliation', 'banks', 'seals', 'events', 'notifications', 'notices', 'attachments', 'applications', 'appeals', 'organisations', 'condolences', 'figures'];

/** The owner of each table; 'audit' is the platform's src/audit/. */
const OWNERS: Record<string, string> = Object.fromEntries(
  Object.entries({
    members: [
      'units', 'members', 'enrolments', 'member_changes', 'roster_imports', 'roster_import_errors', 'roster_changes',
      'contribution_payments', 'unit_payer_accounts', 'unit_terms_changes',
    ],
    settlements: ['settlement_sources', 'settlement_runs', 'settlements', 'settlement_setl_ids', 'settlement_rejections'],
    benefits: [
      'claims', 'claim_reversals', 'benefit_lines', 'recoveries', 'disease_group_grants', 'member_year_totals',
      'rule_sets', 'plan_year_rule_sets', 'claim_redecisions', 'rule_set_proposals', 'organisation_rule_sets',
    ],
    payouts: ['payout_batches', 'payouts', 'payout_lines', 'payout_attempts', 'payout_retries', 'payment_policies', 'bank_status_reports', 'funders'],
    reconciliation: [
      'bank_documents', 'bank_statements', 'statement_entries', 'statement_entry_states', 'reconciliation_runs', 'reconciliation_exceptions',
      'reconciliation_matches', 'daily_proofs', 'four_eyes_proposals', 'contribution_reversals',
    ],
    banks: ['bank_feed_cursors'],
    attachments: ['attachment_blobs', 'attachments'],
    appeals: ['appeals', 'appeal_attachments'],
    condolences: ['condolences'],
    organisations: ['organisations', 'unit_moves'],
    figures: ['enrolment_targets'],
    applications: ['applications', 'application_attachments'],
    notices: ['notices'],
    notifications: ['notifications', 'notification_preferences', 'notification_deliveries'],
    audit: ['audit_log', 'audit_checkpoints'],
  }).flatMap(([owner, tables]) => tables.map((t) => [t, owner])),
);

const storeOf = (file: string): string | undefined => /^src\/([^/]+)\/store(?:\.ts$|\/)/.exec(file)?.[1];
const domainOf = (file: string): string | undefined => /^src\/([^/]+)\//.exec(file)?.[1];

/** May `file` write a table that `owner` owns? */
function writesAsOwner(file: string, owner: string): boolean {
  if (owner === 'audit') return file.startsWith('src/audit/');
  return storeOf(file) === owner;
}

/** May `file` hold SQL text at all? */
const mayHoldSql = (file: string): boolean =>
  (storeOf(file) !== undefined && DOMAINS.includes(storeOf(file)!)) ||
  file.startsWith('src/db/') ||
  file.startsWith('src/audit/');

function sourceFiles(): string[] {
  return ['src', 'jobs']
    .flatMap((dir) => readdirSync(`${root}${dir}`, { recursive: true, encoding: 'utf8' }).map((f) => `${dir}/${f}`))
    .filter((f) => f.endsWith('.ts') && !f.startsWith('src/gateway/generated/') && !f.startsWith('src/db/migrations/'))
    .sort();
}

interface Literal {
  file: string;
  line: number; // of the literal's first character
  text: string; // as written, `${…}` included, so offsets map to lines
}

/** Every string and template literal (a template once, with its `${…}` parts). */
function literals(file: string): Literal[] {
  const sf = ts.createSourceFile(file, readFileSync(`${root}${file}`, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Literal[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) {
      const start = node.getStart(sf);
      found.push({ file, line: sf.getLineAndCharacterOfPosition(start).line + 1, text: node.getText(sf) });
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

const lineAt = (lit: Literal, index: number): number => lit.line + (lit.text.slice(0, index).match(/\n/g)?.length ?? 0);

const NAME = String.raw`(\$\{|"?[A-Za-z_][\w.]*"?)`;
const WRITES: { verb: string; pattern: RegExp }[] = [
  { verb: 'INSERT INTO', pattern: new RegExp(String.raw`\bINSERT\s+INTO\s+${NAME}`, 'g') },
  // not the row locks (FOR UPDATE [OF t] [SKIP LOCKED | NOWAIT]), not an upsert's DO UPDATE SET
  { verb: 'UPDATE', pattern: new RegExp(String.raw`(?<!\bFOR\s+(?:NO\s+KEY\s+)?)(?<!\bDO\s+)\bUPDATE\s+(?:ONLY\s+)?${NAME}`, 'g') },
  { verb: 'DELETE FROM', pattern: new RegExp(String.raw`\bDELETE\s+FROM\s+(?:ONLY\s+)?${NAME}`, 'g') },
  // COPY t FROM STDIN writes t; COPY t TO STDOUT reads it
  { verb: 'COPY', pattern: new RegExp(String.raw`\bCOPY\s+${NAME}(?:\s*\([^)]*\))?\s+FROM\b`, 'g') },
];
const NOT_TABLES = new Set(['SET', 'OF', 'ON', 'OR', 'SKIP', 'NOWAIT']);

interface Write {
  where: string;
  verb: string;
  table: string; // '${…}' when the name is computed
}

function writes(lit: Literal): Write[] {
  return WRITES.flatMap(({ verb, pattern }) =>
    [...lit.text.matchAll(pattern)]
      .filter((m) => !NOT_TABLES.has(m[1]!))
      .map((m) => ({
        where: `${lit.file}:${lineAt(lit, m.index)}`,
        verb,
        table: m[1] === '${' ? '${…}' : m[1]!.replaceAll('"', '').split('.').pop()!,
      })),
  );
}

const SQL_TEXT = [
  /\bSELECT\b[\s\S]*?\bFROM\b/,
  /\bINSERT\s+INTO\b/,
  /\bUPDATE\b[\s\S]*?\bSET\b/,
  /\bDELETE\s+FROM\b/,
  // statements without those words: a literal that starts as one (SELECT pg_advisory_xact_lock(…),
  // COPY … FROM STDIN, a temporary table)
  /(?<=^[`'"]\s*)(?:SELECT|WITH\s+\w+\s+AS\s*\(|COPY|CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TABLE|TRUNCATE|ANALYZE|LOCK\s+TABLE)\s/,
];

/** The first SQL statement in a literal, if any: file:line and its first words. */
function sqlText(lit: Literal): string | undefined {
  const first = SQL_TEXT.map((p) => p.exec(lit.text)).filter((m) => m !== null).sort((a, b) => a.index - b.index)[0];
  if (!first) return undefined;
  const head = lit.text.slice(first.index).split('\n')[0]!.trim().slice(0, 80);
  return `${lit.file}:${lineAt(lit, first.index)}  ${head}`;
}

describe('SQL ownership', () => {
  const files = sourceFiles();
  const all = files.flatMap(literals);

  // Temporary tables (CREATE TEMP TABLE) belong to the domain whose file creates them.
  const temporary = new Map<string, string | undefined>(
    all.flatMap((lit) =>
      [...lit.text.matchAll(/\bCREATE\s+(?:TEMP|TEMPORARY)\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_]\w*)/g)].map(
        (m) => [m[1]!, domainOf(lit.file)] as const,
      ),
    ),
  );

  it('finds the SQL it is looking for', () => {
    // Were the scan blind (a moved folder, a parser change), both checks below would pass on nothing.
    const written = new Set(all.flatMap(writes).map((w) => w.table));
    expect(files.length).toBeGreaterThan(50);
    for (const table of ['members', 'payouts', 'claims', 'audit_log']) expect(written).toContain(table);
  });

  it("writes each table only from its owner's store", () => {
    const offenders = all.flatMap(writes).flatMap(({ where, verb, table }) => {
      const file = where.slice(0, where.lastIndexOf(':'));
      if (table === '${…}') {
        // A computed name cannot be checked here: a store may build it (and answers for it in review);
        // anything else holds SQL it must not hold at all.
        return storeOf(file) ? [] : [`${where}  ${verb} \${…}: a computed table name outside a store`];
      }
      const owner = OWNERS[table] ?? (temporary.has(table) ? temporary.get(table) : undefined);
      if (owner === undefined) return [`${where}  ${verb} ${table}: no owner in the table map (docs/layers.md)`];
      if (writesAsOwner(file, owner)) return [];
      const home = owner === 'audit' ? 'src/audit/' : `src/${owner}/store.ts`;
      return [`${where}  ${verb} ${table}: owned by ${owner}, written only from ${home}`];
    });
    expect(offenders, `${offenders.length} write(s) outside the owner's store:\n${offenders.join('\n')}\n`).toEqual([]);
  });

  it('keeps SQL text in stores, src/db/ and src/audit/', () => {
    const offenders = all.filter((lit) => !mayHoldSql(lit.file)).flatMap((lit) => sqlText(lit) ?? []);
    expect(offenders, `${offenders.length} SQL statement(s) outside a store:\n${offenders.join('\n')}\n`).toEqual([]);
  });
});
