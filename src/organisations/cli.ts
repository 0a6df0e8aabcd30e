import type { Command } from 'commander';
import { Option } from 'commander';
import { jsonOption, result, say } from '../cliOutput.ts';
import { createPool } from '../db/pool.ts';
import { notFound } from '../kernel/errors.ts';
import { UNSCOPED } from '../kernel/scope.ts';
import { ORGANISATION_LEVELS, type OrganisationLevel } from './model.ts';
import { createOrganisation } from './service.ts';
import { allOrganisations, organisationByCode } from './store.ts';

/** `hub organisations add|list`: operators set up the organisation tree on the server (audited as the operator `cli`). */
export function registerOrganisationCommands(program: Command): void {
  const organisations = program.command('organisations').description('the tree of union organisations (province, city, county) units belong to');
  organisations
    .command('add')
    .description('create an organisation below --parent (or the top of a new tree without it)')
    .requiredOption('--code <code>', 'its code: capital letters, digits and "-", at most 32 (tokens name it in their org claim)')
    .requiredOption('--name <name>', 'its name')
    .addOption(new Option('--level <level>', 'its level').choices(ORGANISATION_LEVELS).makeOptionMandatory())
    .option('--parent <code>', 'the code of the organisation directly above')
    .addOption(jsonOption())
    .action(async (options: { code: string; name: string; level: OrganisationLevel; parent?: string }) => {
      const db = createPool({ max: 2 });
      try {
        const parent = options.parent === undefined ? null : await organisationByCode(db, options.parent.trim().toUpperCase());
        if (options.parent !== undefined && !parent) throw notFound(`organisation ${options.parent}`, '--parent');
        const created = await createOrganisation(db, { subject: 'cli', role: 'ADMIN' }, UNSCOPED, {
          code: options.code, name: options.name, level: options.level, parentId: parent?.id ?? null,
        });
        say(`created ${created.level} ${created.code} (${created.name})${parent ? ` below ${parent.code}` : ''}`);
        result({ id: created.id, code: created.code, name: created.name, level: created.level, parent: parent?.code ?? null });
      } finally {
        await db.end();
      }
    });
  organisations
    .command('list')
    .description('every organisation, as a tree')
    .addOption(jsonOption())
    .action(async () => {
      const db = createPool({ max: 2 });
      try {
        const rows = await allOrganisations(db);
        const codeOf = new Map(rows.map((o) => [o.id, o.code]));
        for (const o of rows) say(`${'  '.repeat(o.path.length - 1)}${o.code}  ${o.level}  ${o.name}`);
        result(rows.map((o) => ({ code: o.code, name: o.name, level: o.level, parent: o.parentId === null ? null : codeOf.get(o.parentId) ?? null })));
      } finally {
        await db.end();
      }
    });
}
