import { z } from 'zod';
import { ADVANCED, defineNode, sleep, ui, type SluiceRecord } from '../../runtime/index.js';
import { datasetRecord, keyOf } from './datasets.js';

const config = z
  .object({
    dataset: z.enum(['orders', 'customers', 'order_lines', 'counter']).default('orders').describe('which sample dataset to generate').meta(ui({ summary: true })),
    count: z.number().int().min(0).default(1000).describe('how many records, in all'),
    rate: z.number().positive().optional().describe('records per second; as fast as possible when empty'),
    seed: z.number().int().default(1).describe('same seed, same records').meta(ui({ group: ADVANCED })),
    customers: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe('orders: customer_id ranges over 1..customers')
      .meta(ui({ showWhen: { dataset: 'orders' }, help: 'customer_id ranges over 1..customers' })),
    linesPerOrder: z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe('order_lines: lines per order')
      .meta(ui({ showWhen: { dataset: 'order_lines' } })),
  })
  .strict();

export const generate = defineNode({
  type: 'core.generate',
  category: 'source',
  title: 'Generate',
  description: 'Deterministic sample data (orders, customers, order_lines, counter); resumes where it stopped',
  icon: 'sparkles',
  configSchema: config,
  inputs: [],
  outputs: [{ name: 'out' }],
  position: {
    example: 'after record 0',
    describe: (p) => `after record ${p as number}`,
    parse(text) {
      const m = /^(?:after record\s+)?(\d+)$/i.exec(text.trim());
      if (!m) throw new Error('expected "after record N": the records emitted so far');
      return Number(m[1]);
    },
    compare: (a, b) => Math.sign((a as number) - (b as number)),
  },
  create(ctx) {
    const c = ctx.config;
    const options = { seed: c.seed, customers: c.customers, linesPerOrder: c.linesPerOrder };
    // at a set rate, batches are kept to about a tenth of a second's worth so the flow stays live
    const batchSize = c.rate ? Math.max(1, Math.min(ctx.settings.batchSize, Math.floor(c.rate / 10))) : ctx.settings.batchSize;
    let next = 0; // records emitted so far: the position
    let startIndex = 0;
    let startedAt = 0;
    return {
      kind: 'source',
      async open(position) {
        next = typeof position === 'number' ? position : 0;
        startIndex = next;
        startedAt = Date.now();
      },
      async read() {
        if (next >= c.count) return null;
        const n = Math.min(batchSize, c.count - next);
        if (c.rate) {
          const due = startedAt + ((next - startIndex + n) / c.rate) * 1000;
          if (due > Date.now()) await sleep(due - Date.now(), ctx.signal);
          if (ctx.signal.aborted) return null;
        }
        const records: SluiceRecord[] = new Array(n);
        const ts = Date.now();
        for (let j = 0; j < n; j++) {
          const value = datasetRecord(c.dataset, next + j + 1, options);
          records[j] = { key: keyOf(c.dataset, value), value, op: 'c', meta: { source: ctx.nodeId, table: c.dataset, position: next + j + 1, ts } };
        }
        next += n;
        return { records, position: next };
      },
      async close() {},
    };
  },
});
