import { z } from 'zod';
import { defineNode, ui, type Value } from '../../runtime/index.js';

const config = z
  .object({
    keep: z.array(z.string().min(1)).optional().describe('fields to keep (all when empty)').meta(ui({ widget: 'fields' })),
    drop: z.array(z.string().min(1)).default([]).describe('fields to remove').meta(ui({ widget: 'fields' })),
    rename: z.record(z.string(), z.string().min(1)).default({}).describe('old name → new name'),
  })
  .strict();

export const select = defineNode({
  type: 'core.select',
  category: 'transform',
  title: 'Select fields',
  description: 'Keep, drop and rename top-level fields without code (applies to before rows too)',
  icon: 'columns',
  configSchema: config,
  inputs: [{ name: 'in' }],
  outputs: [{ name: 'out' }],
  create(ctx) {
    const { keep, drop, rename } = ctx.config;
    const dropped = new Set(drop);
    const shape = (row: Value | null | undefined): Value | null | undefined => {
      if (!row) return row;
      const out: Value = {};
      for (const name of keep ?? Object.keys(row)) {
        if (dropped.has(name) || !(name in row)) continue;
        out[rename[name] ?? name] = row[name];
      }
      return out;
    };
    return {
      kind: 'transform',
      async open() {},
      async process(records) {
        return {
          out: records.map((r) => ({ ...r, value: shape(r.value) ?? null, ...(r.before !== undefined ? { before: shape(r.before) } : {}) })),
        };
      },
      async close() {},
    };
  },
});
