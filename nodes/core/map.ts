import { z } from 'zod';
import { defineNode, type SluiceRecord, type Value } from '../../runtime/index.js';
import { codeField, errorRecord, NOT_CALLED, userCodeTransform } from './user-code.js';

const config = z.object({ code: codeField('(value, meta) => ({ ...value, total: value.amount * 1.2 })') }).strict();

const isRow = (v: unknown): v is Value => v !== null && typeof v === 'object' && !Array.isArray(v);

/** the record with its new value (and its mapped before row, when it has one) */
function mapped(record: SluiceRecord, value: Value, before: unknown): SluiceRecord {
  const out = { ...record, value };
  if (record.before !== undefined) out.before = before as Value | null;
  return out;
}

export const map = defineNode({
  type: 'core.map',
  category: 'transform',
  title: 'Map',
  description:
    'Reshape each record with a sandboxed JS function (value, meta) => newValue; null drops it, an array emits several. Deletes are mapped through their before row.',
  icon: 'function',
  configSchema: config,
  inputs: [{ name: 'in' }],
  outputs: [{ name: 'out' }, { name: 'error', description: 'records whose function threw, with the error' }],
  create: (ctx) =>
    userCodeTransform(ctx, (record, value, before, out, error) => {
      const mappedBefore = before !== NOT_CALLED ? before : record.before;
      if (mappedBefore !== undefined && mappedBefore !== null && !isRow(mappedBefore)) {
        error.push(errorRecord(record, ctx.nodeId, `must return an object, an array of objects, or null; returned ${JSON.stringify(mappedBefore)} for the before row`));
        return;
      }
      if (value === NOT_CALLED) {
        // a delete (or a record without a value): only its before row is mapped
        if (record.before && (mappedBefore === null || mappedBefore === undefined)) return;
        out.push({ ...record, before: mappedBefore as Value | null | undefined });
        return;
      }
      const result = value;
      if (result === null || result === undefined) return;
      const bad = Array.isArray(result) ? result.find((r) => !isRow(r)) : isRow(result) ? undefined : result;
      if (bad !== undefined) {
        error.push(errorRecord(record, ctx.nodeId, `must return an object, an array of objects, or null; returned ${JSON.stringify(bad)?.slice(0, 80)}`));
        return;
      }
      if (Array.isArray(result)) for (const row of result) out.push(mapped(record, row as Value, mappedBefore));
      else out.push(mapped(record, result as Value, mappedBefore));
    }),
});
