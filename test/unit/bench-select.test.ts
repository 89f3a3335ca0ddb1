import { describe, expect, it } from 'vitest';
import { selectCases } from '../bench/harness.js';

const cases = ['engine.map', 'engine.sandbox', 'kafka', 'kafka.cdc-latency', 'aggregate', 'postgres.cdc-latency'].map((name) => ({ name }));
const names = (filter?: string) => selectCases(cases, filter).map((c) => c.name);

describe('bench case selection', () => {
  it('runs a case by its exact name only, not every case whose name contains it', () => {
    expect(names('kafka')).toEqual(['kafka']);
    expect(names('kafka.cdc-latency')).toEqual(['kafka.cdc-latency']);
    expect(names('aggregate')).toEqual(['aggregate']);
  });

  it('runs a family by the prefix before the dot, and nothing for a part of a name', () => {
    expect(names('engine')).toEqual(['engine.map', 'engine.sandbox']);
    expect(names('cdc-latency')).toEqual([]);
    expect(names('eng')).toEqual([]);
  });

  it('runs every case without a name', () => {
    expect(names()).toHaveLength(cases.length);
  });
});
