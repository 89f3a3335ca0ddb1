import { z } from 'zod';
import { defineNode, type SluiceRecord, type UserFunction, type Value } from '../../runtime/index.js';
import { SANDBOX_BATCHES_IN_FLIGHT, codeField, errorRecord, evaluate, failure } from './user-code.js';

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
  async create(ctx) {
    let fn: UserFunction;
    return {
      kind: 'transform',
      // stateless: more than one batch may be in the sandbox at once (see SANDBOX_BATCHES_IN_FLIGHT)
      concurrency: SANDBOX_BATCHES_IN_FLIGHT,
      async open() {
        fn = await ctx.compile(ctx.config.code, 'code', { workers: SANDBOX_BATCHES_IN_FLIGHT });
      },
      async process(records) {
        const out: SluiceRecord[] = [];
        const error: SluiceRecord[] = [];
        const { values, befores } = await evaluate(fn, records);
        for (let i = 0; i < records.length; i++) {
          const record = records[i];
          const value = values[i];
          const before = befores[i];
          const failed = failure(value, before);
          if (failed !== undefined) {
            error.push(errorRecord(record, ctx.nodeId, failed));
            continue;
          }
          const mappedBefore = before?.ok ? before.value : record.before;
          if (mappedBefore !== undefined && mappedBefore !== null && !isRow(mappedBefore)) {
            error.push(errorRecord(record, ctx.nodeId, `must return an object, an array of objects, or null; returned ${JSON.stringify(mappedBefore)} for the before row`));
            continue;
          }
          if (!value) {
            // a delete (or a record without a value): only its before row is mapped
            if (record.before && (mappedBefore === null || mappedBefore === undefined)) continue;
            out.push({ ...record, before: mappedBefore as Value | null | undefined });
            continue;
          }
          const result = value.ok ? value.value : undefined;
          if (result === null || result === undefined) continue;
          const bad = Array.isArray(result) ? result.find((r) => !isRow(r)) : isRow(result) ? undefined : result;
          if (bad !== undefined) {
            error.push(errorRecord(record, ctx.nodeId, `must return an object, an array of objects, or null; returned ${JSON.stringify(bad)?.slice(0, 80)}`));
            continue;
          }
          if (Array.isArray(result)) for (const row of result) out.push(mapped(record, row as Value, mappedBefore));
          else out.push(mapped(record, result as Value, mappedBefore));
        }
        return { out, error };
      },
      async close() {
        fn?.dispose();
      },
    };
  },
});
