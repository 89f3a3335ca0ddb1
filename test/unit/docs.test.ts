/**
 * The node reference (docs/nodes.md) is written from the registered schemas: the committed file must be
 * what the generator writes today, and the generator must document any node type without knowing it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRegistry } from '../../nodes/catalog.js';
import { CODE_MARK, CONNECTION_MARK, defineNode, fileMark, secret } from '../../runtime/index.js';
import { NODE_REFERENCE_COMMAND, nodeReference } from '../../runtime/node-reference.js';
import { NodeRegistry } from '../../runtime/registry.js';
import { runCli } from '../helpers/cli.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('the node reference (docs/nodes.md)', () => {
  it('the committed file is what the schemas give today', () => {
    const committed = readFileSync(resolve(ROOT, 'docs/nodes.md'), 'utf8');
    const fresh = nodeReference(createRegistry().catalog());
    expect(committed === fresh, `docs/nodes.md is stale (a node type or its schema changed): run \`${NODE_REFERENCE_COMMAND}\` and commit docs/nodes.md`).toBe(true);
  });

  it('documents a node type it has never seen: fields, types, defaults, required, marks, nesting, ports', () => {
    const probe = defineNode({
      type: 'probe.sink',
      category: 'sink',
      title: 'Probe',
      description: 'a type made up for this test | with a pipe',
      configSchema: z
        .object({
          connection: z.string().min(1).meta(CONNECTION_MARK).describe('which connection'),
          password: secret(z.string()).optional().describe('the password'),
          path: z.string().meta(fileMark('write')).describe('where to write'),
          batch: z.number().int().min(1).max(500).default(50).describe('rows per write'),
          mode: z.enum(['append', 'replace']).default('append').describe('how to write'),
          rules: z.array(z.object({ field: z.string(), expr: z.string().meta(CODE_MARK).optional() })).optional().describe('the rules'),
          extra: z.object({ hint: z.string().meta({ 'x-ui-widget': 'textarea' }).describe('a UI hint the generator ignores') }).optional(),
        })
        .strict(),
      inputs: [{ name: 'in', required: true, description: 'what to write' }],
      outputs: [{ name: 'error', description: 'rows that failed' }],
      create: () => {
        throw new Error('not run');
      },
    });
    const md = nodeReference(new NodeRegistry([probe]).catalog());
    const row = (field: string) => md.split('\n').find((l) => l.startsWith(`| \`${field}\` |`));
    expect(md).toContain('## probe.sink');
    expect(md).toContain('**Probe** (sink). a type made up for this test | with a pipe');
    expect(md).toContain('- Inputs: `in` (required): what to write');
    expect(md).toContain('- Outputs: `error`: rows that failed');
    expect(row('connection')).toBe('| `connection` | string |  | yes | connection name | which connection |');
    expect(row('password')).toBe('| `password` | string |  |  | secret | the password |');
    expect(row('path')).toBe('| `path` | string |  | yes | file (write) | where to write |');
    expect(row('batch')).toBe('| `batch` | integer | `50` |  | 1–500 | rows per write |');
    expect(row('mode')).toBe('| `mode` | `append` \\| `replace` | `append` |  |  | how to write |');
    expect(row('rules')).toBe('| `rules` | object[] |  |  |  | the rules |');
    expect(row('rules[].field')).toBe('| `rules[].field` | string |  | yes |  |  |');
    expect(row('rules[].expr')).toBe('| `rules[].expr` | string |  |  | code (sandboxed) |  |');
    expect(row('extra.hint')).toBe('| `extra.hint` | string |  | yes |  | a UI hint the generator ignores |');
  });

  it('`sluice nodes --markdown` prints it', async () => {
    const r = await runCli(['nodes', '--markdown']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(nodeReference(createRegistry().catalog()));
  });
});
