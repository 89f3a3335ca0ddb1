import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assign, liveAgents, moved, type AgentSupply, type Assignment, type FlowDemand } from '../../runtime/cluster/assignment.js';

const flows = (n: number, weight = 1): FlowDemand[] => Array.from({ length: n }, (_, i) => ({ flowId: `f${String(i + 1).padStart(2, '0')}`, weight }));
const agents = (...names: string[]): AgentSupply[] => names.map((name) => ({ name }));
const countBy = (a: Assignment) => Object.values(a).reduce<Record<string, number>>((m, n) => ((m[n] = (m[n] ?? 0) + 1), m), {});

describe('assign', () => {
  it('spreads new flows evenly by count', () => {
    const a = assign(flows(12), agents('a', 'b', 'c'), {});
    expect(Object.keys(a)).toHaveLength(12);
    expect(countBy(a)).toEqual({ a: 4, b: 4, c: 4 });
  });

  it('1 agent with 12 flows, 2 agents join: each ends with 4 and only 8 flows move', () => {
    const before = assign(flows(12), agents('a'), {});
    expect(countBy(before)).toEqual({ a: 12 });
    const after = assign(flows(12), agents('a', 'b', 'c'), before);
    expect(countBy(after)).toEqual({ a: 4, b: 4, c: 4 });
    expect(moved(before, after)).toHaveLength(8);
    // what stayed on a stayed untouched; what moved, moved away from a
    for (const id of moved(before, after)) expect(before[id]).toBe('a');
  });

  it('is sticky: a balanced assignment is returned unchanged', () => {
    const start = assign(flows(9), agents('a', 'b', 'c'), {});
    expect(assign(flows(9), agents('a', 'b', 'c'), start)).toEqual(start);
    // 10 flows on 3 agents: 4/3/3 is as even as it gets, nothing moves back and forth
    const ten = assign(flows(10), agents('a', 'b', 'c'), start);
    expect(moved(start, ten)).toEqual(['f10']);
    expect(assign(flows(10), agents('a', 'b', 'c'), ten)).toEqual(ten);
  });

  it("a dead agent's flows go to the others, and only those move", () => {
    const before = assign(flows(12), agents('a', 'b', 'c'), {});
    const after = assign(flows(12), agents('a', 'c'), before);
    expect(countBy(after)).toEqual({ a: 6, c: 6 });
    expect(moved(before, after).every((id) => before[id] === 'b')).toBe(true);
  });

  it('a draining agent keeps nothing and gets nothing', () => {
    const before = assign(flows(6), agents('a', 'b'), {});
    const after = assign(flows(6), [{ name: 'a' }, { name: 'b', draining: true }], before);
    expect(countBy(after)).toEqual({ a: 6 });
    expect(assign(flows(2), [{ name: 'x', draining: true }], {})).toEqual({});
  });

  it('balances by declared weight', () => {
    const demand: FlowDemand[] = [{ flowId: 'big', weight: 4 }, ...flows(4)];
    const a = assign(demand, agents('a', 'b'), {});
    expect(a.big).toBeDefined();
    const other = a.big === 'a' ? 'b' : 'a';
    expect(Object.entries(a).filter(([, n]) => n === other).map(([id]) => id).sort()).toEqual(['f01', 'f02', 'f03', 'f04']);
  });

  it('respects capacity and leaves flows unassigned when every agent is full', () => {
    const a = assign(flows(5), [{ name: 'a', capacity: 1 }, { name: 'b', capacity: 2 }], {});
    expect(countBy(a)).toEqual({ a: 1, b: 2 });
    expect(Object.keys(a)).toHaveLength(3);
  });

  it('drops flows that should no longer run', () => {
    const before = assign(flows(4), agents('a', 'b'), {});
    const after = assign(flows(2), agents('a', 'b'), before);
    expect(Object.keys(after).sort()).toEqual(['f01', 'f02']);
  });

  it('property: complete, within one flow of even for equal weights, and moving only from agents above the even share', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), (n, k1, k2) => {
        const first = agents(...Array.from({ length: k1 }, (_, i) => `a${i}`));
        const second = agents(...Array.from({ length: k2 }, (_, i) => `a${i + 3}`));
        const before = assign(flows(n), first, {});
        const after = assign(flows(n), second, before);
        expect(Object.keys(after)).toHaveLength(n);
        const counts = second.map((a) => countBy(after)[a.name] ?? 0);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        // a flow whose agent survived moves only when that agent held more than its share
        const share = Math.ceil(n / k2);
        const survivors = new Set(second.map((a) => a.name));
        const countsBefore = countBy(before);
        for (const id of moved(before, after)) if (survivors.has(before[id])) expect(countsBefore[before[id]]).toBeGreaterThan(share - 1);
      }),
      { seed: 13, numRuns: 300 },
    );
  });
});

describe('liveAgents', () => {
  it('keeps the members whose heartbeat is recent enough at the given time', () => {
    const members = [
      { name: 'a', heartbeatAt: 10_000 },
      { name: 'b', heartbeatAt: 7_000 },
    ];
    expect(liveAgents(members, 11_000, 3_000).map((m) => m.name)).toEqual(['a']);
    expect(liveAgents(members, 10_000, 3_000).map((m) => m.name)).toEqual(['a', 'b']);
  });
});

describe('assign without rebalancing', () => {
  it('places only the flows without a home and leaves running ones where they are', () => {
    const before = assign(flows(6), agents('a'), {});
    const held = assign([...flows(6), { flowId: 'new' }], agents('a', 'b'), before, { rebalance: false });
    expect(held.new).toBe('b');
    for (const f of flows(6)) expect(held[f.flowId]).toBe('a');
    expect(countBy(assign(flows(6), agents('a', 'b'), held))).toEqual({ a: 3, b: 3 });
  });
});
