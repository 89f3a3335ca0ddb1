import { z } from 'zod';
import { defineNode } from '../../runtime/index.js';
import { codeField, NOT_CALLED, userCodeTransform } from './user-code.js';

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
  create: (ctx) =>
    userCodeTransform(ctx, (record, value, before, out) => {
      const now = value !== NOT_CALLED ? Boolean(value) : undefined;
      const was = before !== NOT_CALLED ? Boolean(before) : undefined;
      if (record.op === 'd') {
        if (was !== false) out.push(record); // a delete of a row that was in (or may have been)
      } else if (record.op === 'u' && was !== undefined) {
        if (now && was) out.push(record);
        else if (now && !was) out.push({ ...record, op: 'c', before: undefined });
        else if (!now && was) out.push({ ...record, op: 'd', value: null });
      } else if (now) out.push(record);
    }),
});
