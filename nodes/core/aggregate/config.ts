/**
 * core.aggregate's configuration: the zod schema (the editor renders its form from it) and the checks
 * that span fields (a measure name clashing with a group field, a window without a size ...).
 */
import { z } from 'zod';
import { CODE_MARK, ui } from '../../../runtime/index.js';

export const MEASURE_FNS = ['count', 'sum', 'avg', 'min', 'max', 'first', 'last', 'countDistinct', 'collect', 'custom'] as const;
export type MeasureFn = (typeof MEASURE_FNS)[number];

/** output fields added to windowed results */
export const WINDOW_START = 'window_start';
export const WINDOW_END = 'window_end';

export const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const duration = (what: string) =>
  z
    .union([
      z.number().int().min(0),
      z.string().regex(DURATION, 'must be milliseconds as a number, or a string such as "500ms", "30s", "5m", "1h", "1d"'),
    ])
    .describe(`${what}: milliseconds as a number, or a string such as "500ms", "30s", "5m", "1h", "1d"`);

/** `"5m"` → 300000; numbers are milliseconds already (the schema has checked the form) */
export function parseDuration(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = DURATION.exec(v.trim());
  if (!m) throw new Error(`not a duration: ${JSON.stringify(v)}`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}

/** a duration, or undefined when absent or malformed (its own issue is reported by the field) */
function maybeDuration(v: number | string | undefined): number | undefined {
  if (v === undefined || (typeof v === 'string' && !DURATION.test(v.trim()))) return undefined;
  return parseDuration(v);
}

const groupExpr = z
  .object({
    name: z.string().min(1).describe('output field that holds the expression result').meta(ui({ help: 'the output field for the result' })),
    expr: z
      .string()
      .min(1)
      .describe('JavaScript expression over `value` (the row) and `meta`, run in the sandbox, e.g. value.ts.slice(0, 7)')
      .meta(CODE_MARK),
  })
  .strict()
  .meta(ui({ title: 'expression' }));

const measure = z
  .object({
    name: z.string().min(1).describe('output field that holds the result').meta(ui({ order: 3, help: 'the output field for the result' })),
    fn: z
      .enum(MEASURE_FNS)
      .describe(
        'count (rows, or non-null values of `field`), sum, avg, min, max, first, last (by arrival), countDistinct, collect (array, capped at `limit`), or custom (your reducer: init, add, remove, result)',
      )
      .meta(ui({ label: 'Function', order: 1, help: 'what to compute' })),
    field: z
      .string()
      .min(1)
      .optional()
      .describe('input field; required except for count (rows) and custom (the whole row). Null and missing values are ignored, as in SQL')
      .meta(ui({ widget: 'field', order: 2, showWhen: { fn: { not: 'custom' } }, help: 'the input field; for count, empty counts rows' })),
    limit: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .optional()
      .describe('collect only: most values in the output array (default 100)')
      .meta(ui({ showWhen: { fn: 'collect' }, help: 'most values kept in the array (default 100)' })),
    init: z
      .unknown()
      .optional()
      .describe('custom only: the initial accumulator, any JSON value (default null)')
      .meta(ui({ label: 'Initial value', showWhen: { fn: 'custom' }, help: 'the starting accumulator, any JSON value (default null)' })),
    add: z
      .string()
      .min(1)
      .describe('custom only: (acc, value) => newAcc, run in the sandbox')
      .meta({ ...CODE_MARK, ...ui({ showWhen: { fn: 'custom' }, help: '(acc, value) => newAcc' }) })
      .optional(),
    remove: z
      .string()
      .min(1)
      .describe('custom only: (acc, value) => newAcc that undoes add; without it updates and deletes go to the error port')
      .meta({ ...CODE_MARK, ...ui({ showWhen: { fn: 'custom' }, help: '(acc, value) => newAcc, undoing add; without it updates and deletes fail' }) })
      .optional(),
    result: z
      .string()
      .min(1)
      .describe('custom only: (acc) => output value; the accumulator itself when empty')
      .meta({ ...CODE_MARK, ...ui({ showWhen: { fn: 'custom' }, help: '(acc) => output; the accumulator when empty' }) })
      .optional(),
  })
  .strict();

const windowSchema = z
  .object({
    type: z
      .enum(['none', 'tumbling', 'hopping', 'session'])
      .default('none')
      .describe('none: one running aggregate per group; tumbling/hopping: fixed windows; session: windows that close after `gap` without records')
      .meta(ui({ label: 'Window type', help: 'none: one running result per group' })),
    size: duration('tumbling and hopping: window length')
      .meta(ui({ widget: 'duration', showWhen: { type: ['tumbling', 'hopping'] }, help: 'the window length' }))
      .optional(),
    slide: duration('hopping: how far each window starts after the previous one (at most size)')
      .meta(ui({ widget: 'duration', showWhen: { type: 'hopping' }, help: 'how far apart windows start (at most the size)' }))
      .optional(),
    gap: duration('session: inactivity that ends a session')
      .meta(ui({ widget: 'duration', showWhen: { type: 'session' }, help: 'the quiet time that ends a session' }))
      .optional(),
    time: z
      .union([
        z.literal('processing'),
        z
          .object({
            field: z
              .string()
              .min(1)
              .describe('field holding the event time: ms since the epoch, or an ISO 8601 string')
              .meta(ui({ label: 'Event time field', widget: 'field', help: 'ms since the epoch, or an ISO 8601 string' })),
          })
          .strict()
          .meta(ui({ title: 'event time (a field)' })),
      ])
      .default('processing')
      .describe('"processing" (the time the node sees the record) or { field } for event time')
      .meta(ui({ showWhen: { type: { not: 'none' } }, help: 'the clock windows follow' })),
    lateness: duration('event time only: how far behind the latest event time a record may arrive and still count')
      .default(0)
      .meta(ui({ widget: 'duration', showWhen: { type: { not: 'none' }, time: { not: 'processing' } }, help: 'how late a record may arrive and still count' })),
  })
  .strict();

const emitSchema = z
  .object({
    everyMs: duration('emit a changed group at most once per this interval (held changes go out on time)')
      .meta(ui({ label: 'At most every', widget: 'duration', help: 'emit a changed group at most once per this interval' }))
      .optional(),
    everyRecords: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('emit a changed group once it has taken this many records since its last emission')
      .meta(ui({ help: 'emit a changed group after this many records' })),
    final: z
      .boolean()
      .default(false)
      .describe('windowed only: emit each window once, when it closes, instead of on every change')
      .meta(ui({ label: 'Only when the window closes', showWhen: { '/window/type': { not: 'none' } } })),
  })
  .strict();

export const configSchema = z
  .object({
    groupBy: z
      .array(z.union([z.string().min(1).describe('a field name').meta(ui({ widget: 'field', title: 'field' })), groupExpr]))
      .default([])
      .describe('fields (or { name, expr } expressions) that make a group; empty: one group over everything')
      .meta(ui({ label: 'Group by', order: 1, summary: true, help: 'fields that make a group; none: one group over everything' })),
    measures: z
      .array(measure)
      .min(1, 'name at least one measure')
      .describe('what to compute per group, each into its own output field')
      .meta(ui({ order: 2, help: 'what to compute per group' })),
    window: windowSchema
      .prefault({})
      .describe('how records are cut into windows; none by default')
      .meta(ui({ order: 3, help: 'how records are cut into windows' })),
    emit: emitSchema
      .prefault({})
      .describe('when results go out; by default every changed group once per batch. Everything held goes out when the input ends')
      .meta(ui({ label: 'When results go out', group: 'advanced', help: 'by default every changed group once per batch' })),
    retractionMemory: z
      .boolean()
      .default(true)
      .describe(
        'remember what each record key contributed (only the fields read here), so updates and deletes retract exactly that even without a before row; state then grows with live record keys. Off: state stays bounded by groups, and updates/deletes need a complete before row',
      )
      .meta(ui({ group: 'advanced', help: 'exact updates and deletes without a before row; state grows with record keys' })),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Map<string, string>();
    const claim = (name: string, path: (string | number)[], what: string) => {
      const prior = names.get(name);
      if (prior) ctx.addIssue({ code: 'custom', path, message: `output field "${name}" is already ${prior}; give this ${what} another name` });
      else names.set(name, what === 'measure' ? 'a measure' : 'a groupBy field');
    };
    c.groupBy.forEach((g, i) => claim(typeof g === 'string' ? g : g.name, typeof g === 'string' ? ['groupBy', i] : ['groupBy', i, 'name'], 'group field'));
    const w = c.window;
    if (w.type !== 'none') {
      names.set(WINDOW_START, 'the window start');
      names.set(WINDOW_END, 'the window end');
    }
    c.measures.forEach((m, i) => {
      const at = (field: string) => ['measures', i, field];
      claim(m.name, at('name'), 'measure');
      if (m.field === undefined && m.fn !== 'count' && m.fn !== 'custom') {
        ctx.addIssue({ code: 'custom', path: at('field'), message: `required for fn ${m.fn}: name the input field` });
      }
      if (m.limit !== undefined && m.fn !== 'collect') ctx.addIssue({ code: 'custom', path: at('limit'), message: 'only applies to fn collect' });
      for (const k of ['init', 'add', 'remove', 'result'] as const) {
        if (m[k] !== undefined && m.fn !== 'custom') ctx.addIssue({ code: 'custom', path: at(k), message: 'only applies to fn custom' });
      }
      if (m.fn === 'custom' && !m.add) ctx.addIssue({ code: 'custom', path: at('add'), message: 'required for fn custom: (acc, value) => newAcc' });
      if (m.fn === 'custom' && w.type === 'session') {
        ctx.addIssue({ code: 'custom', path: at('fn'), message: 'custom measures cannot be used with session windows: sessions merge, and a reducer has no merge' });
      }
    });
    const need = (field: 'size' | 'slide' | 'gap', why: string) => {
      if (w[field] === undefined) ctx.addIssue({ code: 'custom', path: ['window', field], message: `required for ${w.type} windows: ${why}` });
    };
    const forbid = (field: 'size' | 'slide' | 'gap') => {
      if (w[field] !== undefined) ctx.addIssue({ code: 'custom', path: ['window', field], message: `does not apply to ${w.type === 'none' ? 'an unwindowed aggregate' : `${w.type} windows`}` });
    };
    if (w.type === 'none') {
      forbid('size');
      forbid('slide');
      forbid('gap');
      if (c.emit.final) ctx.addIssue({ code: 'custom', path: ['emit', 'final'], message: 'only applies to windowed aggregates (set window.type)' });
    } else if (w.type === 'tumbling') {
      need('size', 'the window length');
      forbid('slide');
      forbid('gap');
    } else if (w.type === 'hopping') {
      need('size', 'the window length');
      need('slide', 'how far apart windows start');
      forbid('gap');
      const size = maybeDuration(w.size);
      const slide = maybeDuration(w.slide);
      if (size !== undefined && slide !== undefined) {
        if (slide < 1 || slide > size) ctx.addIssue({ code: 'custom', path: ['window', 'slide'], message: `must be between 1 ms and size (${size} ms)` });
        else if (size / slide > 1000) ctx.addIssue({ code: 'custom', path: ['window', 'slide'], message: `puts each record in ${Math.ceil(size / slide)} windows; keep size / slide at most 1000` });
      }
    } else {
      need('gap', 'the inactivity that ends a session');
      forbid('size');
      forbid('slide');
    }
    for (const f of ['size', 'gap'] as const) {
      if ((maybeDuration(w[f]) ?? 1) < 1) ctx.addIssue({ code: 'custom', path: ['window', f], message: 'must be at least 1 ms' });
    }
    if (w.time === 'processing' && (maybeDuration(w.lateness) ?? 0) !== 0) {
      ctx.addIssue({ code: 'custom', path: ['window', 'lateness'], message: 'only applies to event time (window.time: { field })' });
    }
    if ((maybeDuration(c.emit.everyMs) ?? 1) < 1) {
      ctx.addIssue({ code: 'custom', path: ['emit', 'everyMs'], message: 'must be at least 1 ms' });
    }
  });

export type AggregateConfig = z.output<typeof configSchema>;
export type MeasureConfig = AggregateConfig['measures'][number];
export type GroupByConfig = AggregateConfig['groupBy'][number];
