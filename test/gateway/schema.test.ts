import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generate } from '@graphql-codegen/cli';
import { buildSchema, isObjectType, isEnumType, isInterfaceType } from 'graphql';
import { loadTypeDefs } from '../../src/gateway/server.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('schema', () => {
  it('generated resolver types are up to date with schema/*.graphql (run npm run codegen)', async () => {
    const { default: config } = await import('../../codegen.ts');
    const outputs = await generate({ ...config, cwd: root, silent: true } as never, false);
    for (const output of outputs as { filename: string; content: string }[]) {
      const committed = readFileSync(`${root}/${output.filename}`, 'utf8');
      expect(committed, `${output.filename} is stale: run npm run codegen`).toBe(output.content);
    }
  });

  it('documents every type and field for front-end teams', () => {
    const schema = buildSchema(loadTypeDefs());
    const undocumented: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name)) continue;
      if (type.name.endsWith('Connection') || type.name.endsWith('Edge') || type.name.endsWith('Filter') || type.name.endsWith('Input')) continue;
      if (!type.description) undocumented.push(type.name);
      if (isObjectType(type) || isInterfaceType(type)) {
        if (['Query', 'Mutation'].includes(type.name)) {
          for (const field of Object.values(type.getFields())) if (!field.description) undocumented.push(`${type.name}.${field.name}`);
        }
      }
      if (isEnumType(type)) for (const v of type.getValues()) if (!v.description) undocumented.push(`${type.name}.${v.name}`);
    }
    expect(undocumented).toEqual([]);
  });
});
