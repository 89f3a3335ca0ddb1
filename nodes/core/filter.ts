import { z } from 'zod';
import { defineNode, type SluiceRecord, type UserFunction } from '../../runtime/index.js';
import { SANDBOX_BATCHES_IN_FLIGHT, codeField, errorRecord, evaluate, failure } from './user-code.js';

const config = z.object({ code: codeField("(value, meta) => value.status !== 'cancelled'") }).strict();

export const filter = defineNode({
  type: 'core.filter',
  category: 'transform',
  title: 'Filter',
  description:
    'Keep the records for which a sandboxed JS function returns true. Over a change stream with before rows, a row that leaves the filter becomes a delete and one that enters it a create.',
  icon: 'filter',
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
          const now = value?.ok ? Boolean(value.value) : undefined;
          const was = before?.ok ? Boolean(before.value) : undefined;
          if (record.op === 'd') {
            if (was !== false) out.push(record); // a delete of a row that was in (or may have been)
          } else if (record.op === 'u' && was !== undefined) {
            if (now && was) out.push(record);
            else if (now && !was) out.push({ ...record, op: 'c', before: undefined });
            else if (!now && was) out.push({ ...record, op: 'd', value: null });
          } else if (now) out.push(record);
        }
        return { out, error };
      },
      async close() {
        fn?.dispose();
      },
    };
  },
});
