/**
 * core.aggregate: running aggregates per group (optionally per window), emitted as keyed upserts for an
 * idempotent sink, exact over CDC streams. See aggregate/engine.ts for how a batch is applied,
 * aggregate/measures.ts for each measure's state and cost, aggregate/windows.ts for windows and lateness.
 *
 * Input ops: c and r add the row; u takes back the old row and adds the new one; d takes back the old
 * row. The old row comes from retraction memory (on by default: what this record key last contributed)
 * or, with retractionMemory off, from the record's `before`, which must then hold every field this node
 * reads. With memory on, a u for an unknown key counts as an insert and a c for a known key as an update.
 *
 * Output (port out): `{ op: 'u', key: { ...group fields[, window_start] }, value: { ...group fields[,
 * window_start, window_end], ...one field per measure } }`, and `{ op: 'd', key, before }` when a group
 * (window) drops to zero rows or a session is merged into another. Window bounds are ISO 8601 strings.
 * Port error: records that cannot count, with the reason (late, unreadable value, a delete of a row never
 * counted, a custom reducer that threw ...).
 *
 * State (snapshot, checkpointed with the source positions): one entry per group (per open window) with
 * each measure's state; min/max/countDistinct add the group's distinct values, first/last/collect every
 * live row's value; retraction memory adds one entry per live record key.
 */
import { defineNode, type TransformInstance, type UserFunction } from '../../runtime/index.js';
import { configSchema, parseDuration, type AggregateConfig } from './aggregate/config.js';
import { compileGroupExpr, compileReducer } from './aggregate/custom.js';
import { Aggregator, type GroupSpec } from './aggregate/engine.js';
import { createMeasure, stableKey } from './aggregate/measures.js';
import { windowSpec } from './aggregate/windows.js';

/** how often tick runs: often enough for the emit interval or the processing-time window size */
function tickInterval(c: AggregateConfig): number | undefined {
  const spans: number[] = [];
  if (c.emit.everyMs !== undefined) spans.push(parseDuration(c.emit.everyMs));
  if (c.window.type !== 'none' && c.window.time === 'processing') {
    const w = windowSpec(c.window);
    spans.push(w.type === 'session' ? w.gap : w.type === 'none' ? Infinity : w.slide);
  }
  if (spans.length === 0) return undefined;
  return Math.max(10, Math.min(1000, Math.floor(Math.min(...spans) / 4)));
}

export const aggregate = defineNode({
  type: 'core.aggregate',
  category: 'aggregate',
  stateful: () => true,
  title: 'Aggregate',
  description:
    'Running count/sum/avg/min/max/first/last/countDistinct/collect/custom per group, optionally per tumbling, hopping or session window (event or processing time), emitted as upserts keyed by the group and a delete when a group empties; exact over CDC (an update takes back the old row, a delete retracts). State: one entry per group per open window, plus the distinct values of min/max/countDistinct, every live row of first/last/collect, and, with retractionMemory (on by default), one entry per live record key.',
  icon: 'sigma',
  configSchema,
  inputs: [{ name: 'in', required: true }],
  outputs: [
    { name: 'out', description: 'u: the group and its measures, keyed by the group (and window_start); d: the group emptied' },
    { name: 'error', description: 'records that cannot count (late, unreadable value, delete of a row never counted ...), with the reason' },
  ],
  create(ctx) {
    const c = ctx.config;
    const compiled: UserFunction[] = [];
    let engine: Aggregator | undefined;
    const ready = () => {
      if (!engine) throw new Error(`node ${ctx.nodeId}: used before open()`);
      return engine;
    };
    const instance: TransformInstance = {
      kind: 'transform',
      async open(state) {
        const groupBy: GroupSpec[] = [];
        const exprs: UserFunction[] = [];
        for (const [i, g] of c.groupBy.entries()) {
          if (typeof g === 'string') groupBy.push({ name: g, field: g });
          else {
            const fn = await compileGroupExpr(ctx, g.expr, i);
            compiled.push(fn);
            groupBy.push({ name: g.name, expr: exprs.length });
            exprs.push(fn);
          }
        }
        const reducers = new Map<number, UserFunction>();
        for (const [j, m] of c.measures.entries()) {
          if (m.fn !== 'custom') continue;
          const fn = await compileReducer(ctx, j);
          compiled.push(fn);
          reducers.set(j, fn);
        }
        const window = windowSpec(c.window);
        engine = new Aggregator({
          nodeId: ctx.nodeId,
          groupBy,
          measures: c.measures.map(createMeasure),
          window,
          emit: {
            everyMs: c.emit.everyMs === undefined ? undefined : parseDuration(c.emit.everyMs),
            everyRecords: c.emit.everyRecords,
            final: c.emit.final,
          },
          retractionMemory: c.retractionMemory,
          fingerprint: stableKey({ groupBy: c.groupBy, measures: c.measures, window, retractionMemory: c.retractionMemory }),
          exprs,
          reducers,
        });
        if (state !== undefined && state !== null) engine.restoreState(state);
      },
      process: (records) => ready().process(records, Date.now()),
      flush: async () => ready().flush(Date.now()),
      snapshot: () => ready().snapshot(),
      async close() {
        for (const fn of compiled.splice(0)) fn.dispose();
      },
    };
    const every = tickInterval(c);
    if (every !== undefined) {
      instance.tick = async (now) => ready().tick(now);
      instance.tickIntervalMs = every;
    }
    return instance;
  },
});

export default aggregate;
