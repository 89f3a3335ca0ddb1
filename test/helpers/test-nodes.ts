/**
 * Node types for executor tests: a sink that keeps what it was given (optionally slow, gated or
 * flaky), built on the same public node API as the shipped ones.
 */
import { z } from 'zod';
import { defineNode, sleep, type NodeType, type SluiceRecord } from '../../runtime/index.js';
import { NodeRegistry } from '../../runtime/registry.js';
import { NODE_TYPES } from '../../nodes/catalog.js';

export interface Collected {
  batches: SluiceRecord[][];
  writes: number;
  failuresLeft: number;
  gate?: Promise<void>;
  onWrite?: (batch: SluiceRecord[]) => void;
  /** writes started and not yet ended */
  inFlight?: number;
  /** set by close() */
  closed?: boolean;
  /** writes that began or ended after close() */
  afterClose?: number;
}

export const collected = new Map<string, Collected>();

export function collector(name: string, init: Partial<Collected> = {}): Collected {
  const c: Collected = { batches: [], writes: 0, failuresLeft: 0, ...init };
  collected.set(name, c);
  return c;
}

export const memorySink = defineNode({
  type: 'test.memory',
  category: 'sink',
  title: 'Memory',
  description: 'keeps records in memory for tests',
  configSchema: z.object({ name: z.string(), delayMs: z.number().default(0) }).strict(),
  inputs: [{ name: 'in' }],
  outputs: [],
  create(ctx) {
    const c = () => collected.get(ctx.config.name)!;
    return {
      kind: 'sink',
      async open() {},
      async write(records) {
        const col = c();
        col.writes++;
        col.inFlight = (col.inFlight ?? 0) + 1;
        if (col.closed) col.afterClose = (col.afterClose ?? 0) + 1;
        try {
          if (col.gate) await col.gate;
          if (ctx.config.delayMs) await sleep(ctx.config.delayMs);
          if (col.failuresLeft > 0) {
            col.failuresLeft--;
            throw new Error('transient write failure');
          }
          col.batches.push(records);
          col.onWrite?.(records);
        } finally {
          col.inFlight--;
          if (col.closed) col.afterClose = (col.afterClose ?? 0) + 1;
        }
      },
      async close() {
        const col = collected.get(ctx.config.name);
        if (col) col.closed = true;
      },
    };
  },
});

/** times each snapshot() was taken, by node name */
export const snapshots = new Map<string, number[]>();

/** a stateful pass-through whose snapshot() takes `snapshotMs` of CPU (a large state to serialise) */
export const slowStateTransform = defineNode({
  type: 'test.slowState',
  category: 'transform',
  title: 'Slow state',
  description: 'passes records through; its checkpoint takes a while',
  configSchema: z.object({ name: z.string(), snapshotMs: z.number(), delayMs: z.number().default(0) }).strict(),
  inputs: [{ name: 'in', required: true }],
  outputs: [{ name: 'out' }],
  create(ctx) {
    return {
      kind: 'transform',
      async open() {},
      async process(records) {
        if (ctx.config.delayMs) await sleep(ctx.config.delayMs);
        return { out: records };
      },
      snapshot() {
        const end = Date.now() + ctx.config.snapshotMs;
        while (Date.now() < end) {
          /* serialising a big state */
        }
        const list = snapshots.get(ctx.config.name) ?? [];
        snapshots.set(ctx.config.name, [...list, Date.now()]);
        return { n: list.length + 1 };
      },
      async close() {},
    };
  },
});

/** counts 1, 2, 3, ... in batches of `batch`, and throws on read number `failAt` (a source read error) */
export const failingSource = defineNode({
  type: 'test.failingSource',
  category: 'source',
  title: 'Failing source',
  description: 'reads a few batches, then fails',
  configSchema: z.object({ batch: z.number().int().min(1), failAt: z.number().int().min(1) }).strict(),
  inputs: [],
  outputs: [{ name: 'out' }],
  create(ctx) {
    let reads = 0;
    return {
      kind: 'source',
      async open() {},
      async read() {
        if (++reads >= ctx.config.failAt) throw new Error(`read ${reads} failed: connection reset`);
        const records = Array.from({ length: ctx.config.batch }, (_, i) => {
          const n = (reads - 1) * ctx.config.batch + i + 1;
          return { key: { n }, value: { n }, op: 'c' as const, meta: {} };
        });
        return { records, position: reads * ctx.config.batch };
      },
      async close() {},
    };
  },
});

export const testRegistry = () =>
  new NodeRegistry([...NODE_TYPES, memorySink as NodeType, slowStateTransform as NodeType, failingSource as NodeType]);

export const flat = (c: Collected) => c.batches.flat();
