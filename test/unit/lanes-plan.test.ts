/** settings.lanes: which flows can run in lanes (lanes/plan.ts) and each lane's share of a table (postgres lane-filter.ts). */
import { describe, expect, it } from 'vitest';
import { compileFlow } from '../../runtime/flow/compile.js';
import { laneProblems } from '../../runtime/executor/lanes/plan.js';
import { laneStateKey } from '../../runtime/executor/lanes/lane-key.js';
import { laneFilter } from '../../nodes/postgres/lane-filter.js';
import { createRegistry } from '../../nodes/catalog.js';
import type { TableMeta } from '../../nodes/postgres/catalog.js';

const registry = createRegistry();
const plan = (nodes: unknown[], edges: unknown[]) =>
  compileFlow({ apiVersion: 'sluice/v1', name: 'f', settings: { lanes: 2 }, nodes, edges }, registry, { env: {} });
const pgSource = (mode: string) => ({ id: 'src', type: 'postgres.source', config: { url: 'postgres://u@h/db', tables: 'public.t', mode } });

describe('laneProblems', () => {
  it('accepts a postgres snapshot through stateless nodes', () => {
    const p = plan([pgSource('snapshot'), { id: 'm', type: 'core.map', config: { code: '(v) => v' } }, { id: 'out', type: 'postgres.sink', config: { url: 'postgres://u@h/db', table: 'x' } }], [{ from: 'src', to: 'm' }, { from: 'm', to: 'out' }]);
    expect(laneProblems(p)).toEqual([]);
  });
  it('refuses a stateful node and a CDC source, naming each node', () => {
    const p = plan(
      [pgSource('cdc'), { id: 'agg', type: 'core.aggregate', config: { groupBy: ['c'], measures: [{ name: 'n', fn: 'count' }] } }, { id: 'out', type: 'postgres.sink', config: { url: 'postgres://u@h/db', table: 'x' } }],
      [{ from: 'src', to: 'agg' }, { from: 'agg', to: 'out' }],
    );
    const messages = laneProblems(p).map((e) => e.message);
    expect(messages).toEqual([
      expect.stringMatching(/^nodes\[src\]: settings\.lanes > 1: mode cdc reads one replication stream/),
      expect.stringMatching(/^nodes\[agg\]: settings\.lanes > 1: core\.aggregate keeps state/),
    ]);
  });
  it('refuses a source type that cannot share its input out', () => {
    const p = plan([{ id: 'gen', type: 'core.generate', config: { count: 10 } }, { id: 'out', type: 'postgres.sink', config: { url: 'postgres://u@h/db', table: 'x' } }], [{ from: 'gen', to: 'out' }]);
    expect(laneProblems(p).map((e) => e.message)).toEqual([expect.stringMatching(/^nodes\[gen\]: settings\.lanes > 1: core\.generate cannot share its input out/)]);
  });
});

describe('laneFilter', () => {
  const table = (type: string, pk = ['id']): TableMeta => ({ id: 'public.t', name: { schema: 'public', table: 't' }, pk, columns: [{ name: 'id', sqlType: type }] }) as unknown as TableMeta;
  it('an integer key by its value modulo the lanes (negative keys too), other types by a hash, keyless tables by block', () => {
    expect(laneFilter(table('bigint'), { index: 1, count: 3 })).toBe('((("id"::bigint % 3) + 3) % 3 = 1)');
    expect(laneFilter(table('text'), { index: 0, count: 2 })).toBe('((hashtext("id"::text) & 2147483647) % 2 = 0)');
    expect(laneFilter(table('bigint', []), { index: 1, count: 2 })).toBe('(((ctid::text::point)[0]::bigint % 2) = 1)');
  });
  it('nothing without lanes or with one', () => {
    expect(laneFilter(table('bigint'), undefined)).toBeUndefined();
    expect(laneFilter(table('bigint'), { index: 0, count: 1 })).toBeUndefined();
  });
  it('each lane keeps its positions under its own key, the lane count in it', () => {
    expect(laneStateKey('orders', { index: 0, count: 2 })).toBe('orders~lane-1-of-2');
  });
});
