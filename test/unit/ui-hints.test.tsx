/**
 * The UI hints of config schemas (runtime/flow/ui-hints.ts) and how the editor reads them
 * (editor/src/formSchema.ts): which fields show for which values, hidden values dropped, one text box
 * for a union of plain values, messages in words, a node's one-line summary — through the real
 * JSON Schema of core.aggregate, as the editor receives it.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isShown, ui } from '../../runtime/flow/ui-hints.js';
import { createRegistry } from '../../nodes/catalog.js';
import { dropHidden, formFor, inWords, isOneOrList, isScalarUnion, labelOf, summaryOf } from '../../editor/src/formSchema.js';

const aggregate = createRegistry()
  .catalog()
  .find((t) => t.type === 'core.aggregate')!.configSchema as Record<string, unknown>;

describe('UI hints', () => {
  it('isShown: a sibling value, one of several, not, a path from the top, and the default when absent', () => {
    const hint = { showWhen: { type: ['tumbling', 'hopping'] } };
    expect(isShown(hint, { type: 'hopping' }, {})).toBe(true);
    expect(isShown(hint, { type: 'none' }, {})).toBe(false);
    expect(isShown(hint, {}, {}, () => 'none')).toBe(false);
    expect(isShown({ showWhen: { fn: { not: 'custom' } } }, { fn: 'sum' }, {})).toBe(true);
    expect(isShown({ showWhen: { fn: { not: 'custom' } } }, { fn: 'custom' }, {})).toBe(false);
    expect(isShown({ showWhen: { '/window/type': { not: 'none' } } }, {}, { window: { type: 'session' } })).toBe(true);
    expect(isShown(undefined, {}, {})).toBe(true);
  });

  it('a hint survives into the JSON Schema under `ui`, beside the marks', () => {
    const schema = z.object({ a: z.string().meta({ code: true, ...ui({ help: 'short' }) }) });
    expect(z.toJSONSchema(schema).properties!.a).toMatchObject({ code: true, ui: { help: 'short' } });
  });

  it('dropHidden: the window sizes go when the window type is none; a measure keeps only its function’s fields', () => {
    const config = {
      window: { type: 'none', size: '30s', slide: 1000 },
      measures: [
        { name: 'a', fn: 'sum', field: 'amount', add: '(a, v) => a' },
        { name: 'b', fn: 'custom', field: 'x', add: '(a, v) => a' },
      ],
      emit: { final: true },
    };
    expect(dropHidden(config, aggregate)).toEqual({
      window: { type: 'none' },
      measures: [
        { name: 'a', fn: 'sum', field: 'amount' },
        { name: 'b', fn: 'custom', add: '(a, v) => a' },
      ],
      emit: {},
    });
    expect(dropHidden({ window: { type: 'hopping', size: '30s', slide: 1000, gap: 5 } }, aggregate)).toEqual({ window: { type: 'hopping', size: '30s', slide: 1000 } });
  });

  it('a union of plain values and one-or-a-list are one text box; a duration gets its placeholder', () => {
    const window = (aggregate.properties as Record<string, { properties: Record<string, unknown> }>).window.properties;
    expect(isScalarUnion(window.size as never)).toBe(true);
    expect(isScalarUnion(window.time as never)).toBe(false);
    expect(isOneOrList({ anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] })).toBe(true);
    const { uiSchema } = formFor(aggregate, {});
    expect(uiSchema.window.size).toMatchObject({ 'ui:field': 'scalar', 'ui:fieldReplacesAnyOrOneOf': true });
    expect(uiSchema.window.size['ui:placeholder']).toMatch(/30s/);
    expect(uiSchema.measures.items.field['ui:widget']).toBe('field');
    expect(uiSchema.groupBy['ui:title']).toBe('Group by');
  });

  it('labels and messages in words', () => {
    expect(labelOf('keyColumn')).toBe('Key column');
    expect(labelOf('pollIntervalMs')).toBe('Poll interval (ms)');
    expect(inWords('Path', 'required')).toBe('Path is required');
    expect(inWords('Name', 'Too small: expected string to have >=1 characters')).toBe('Name is required');
    expect(inWords('Field', 'required for fn sum: name the input field')).toBe('Field is required for fn sum: name the input field');
    expect(inWords('Count', 'Invalid input: expected number, received string')).toBe('Count must be a number, not a string');
    expect(inWords('Function', 'Invalid option: expected one of "a"|"b"')).toBe('Function must be one of "a", "b"');
  });

  it('summaryOf: the fields marked summary (with defaults), else the first required text field that has a value', () => {
    expect(summaryOf(aggregate, { groupBy: ['country', { name: 'month', expr: 'x' }] })).toBe('group by: country, month');
    const sink = { type: 'object', required: ['path', 'table'], properties: { path: { type: 'string', file: 'write' }, table: { type: 'string' } } };
    expect(summaryOf(sink, { path: 'out.db', table: 'totals' })).toBe('table: totals');
    expect(summaryOf(sink, { path: 'out.db' })).toBe('path: out.db');
    expect(summaryOf(sink, {})).toBeUndefined();
  });
});
