/**
 * solace.source and solace.sink through their adapter interface, against a fake that behaves like the
 * broker (test/helpers/fake-solace.ts): no Solace broker can run here. The adapter itself (solclientjs)
 * is tested against a real broker in test/integration/solace.test.ts when SOLACE_URL is set.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { solaceSinkWith } from '../../nodes/solace/sink.js';
import { solaceSourceWith } from '../../nodes/solace/source.js';
import { FlowRun, type RunSummary } from '../../runtime/executor/flow-run.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { settingsSchema } from '../../runtime/flow/schema.js';
import type { NodeType, SinkInstance, SinkWriteResult, SourceInstance } from '../../runtime/node-api.js';
import { NodeRegistry } from '../../runtime/registry.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { NODE_TYPES } from '../../nodes/catalog.js';
import { FakeBroker } from '../helpers/fake-solace.js';
import { create, rec, tempDir } from '../helpers/node-harness.js';

const conn = { connection: (name: string) => (name === 'bus' ? { type: 'solace', url: 'tcp://broker:55555', vpn: 'default', user: 'u', password: 'p' } : undefined) };
const encode = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

function brokerWith(queue: string, payloads: unknown[]): FakeBroker {
  const b = new FakeBroker();
  b.addQueue(queue);
  for (const p of payloads) b.store({ kind: 'queue', name: queue }, encode(p));
  return b;
}

async function readAtLeast(source: SourceInstance, n: number) {
  const batches = [];
  let got = 0;
  while (got < n) {
    const b = (await source.read())!;
    batches.push(b);
    got += b.records.length + (b.errors?.length ?? 0);
  }
  return batches;
}

describe('solace.source (through the adapter, fake broker)', () => {
  it('settles only what was committed; the rest comes back flagged redelivered; bad JSON goes to errors', async () => {
    const broker = brokerWith('Q', [{ id: 1 }, { id: 2 }, 'not json', { id: 3 }]);
    const node = solaceSourceWith(broker);
    const first = await create<SourceInstance>(node, { connection: 'bus', queue: 'Q', keyField: 'id' }, { ...conn, settings: settingsSchema.parse({ batchSize: 2 }) });
    await first.open(undefined);
    const batches = await readAtLeast(first, 4);
    expect(batches.flatMap((b) => b.records.map((r) => r.key))).toEqual([1, 2, 3]);
    const errors = batches.flatMap((b) => b.errors ?? []);
    expect(errors).toHaveLength(1);
    expect(errors[0].meta.error!.message).toMatch(/payload is not JSON.*queue Q/);
    expect(errors[0].value).toEqual({ raw: 'not json' });
    first.committed!(batches[0].position);
    expect(broker.texts('Q')).toEqual(['not json', '{"id":3}']);
    await first.close();

    const second = await create<SourceInstance>(node, { connection: 'bus', queue: 'Q', keyField: 'id' }, conn);
    await second.open(undefined);
    const again = await readAtLeast(second, 2);
    expect(again.flatMap((b) => b.records.map((r) => [r.key, r.meta.redelivered]))).toEqual([[3, true]]);
    expect(second.progress!()!.detail).toMatchObject({ redelivered: 2 });
    for (const b of again) second.committed!(b.position);
    expect(broker.texts('Q')).toEqual([]);
    await second.close();
  });

  it('an unknown queue fails open with the broker\'s reason; a missing connection names the field', async () => {
    const broker = new FakeBroker();
    const source = await create<SourceInstance>(solaceSourceWith(broker), { connection: 'bus', queue: 'NOPE' }, conn);
    await expect(source.open(undefined)).rejects.toThrow(/Unknown Queue: NOPE/);
    const orphan = await create<SourceInstance>(solaceSourceWith(broker), { connection: 'other', queue: 'Q' }, conn);
    await expect(orphan.open(undefined)).rejects.toThrow(/nodes\[n1\]\.connection: the flow has no connection named "other"/);
  });
});

describe('solace.sink (through the adapter, fake broker)', () => {
  it('a batch is written when every message is acknowledged; a rejected one is that record\'s error', async () => {
    const broker = new FakeBroker();
    broker.addQueue('OUT');
    broker.subscribe('OUT', 'orders/DE');
    broker.rejectWhen = (_d, p) => (JSON.parse(Buffer.from(p).toString()).id === 2 ? 'Spool Over Quota' : undefined);
    const sink = await create<SinkInstance>(solaceSinkWith(broker), { connection: 'bus', topic: 'orders/{country}' }, conn);
    await sink.open();
    const { rejected } = (await sink.write([rec({ id: 1, country: 'DE' }), rec({ id: 2, country: 'DE' }), rec({ id: 3, country: 'DE' })])) as SinkWriteResult;
    expect(broker.texts('OUT')).toEqual(['{"id":1,"country":"DE"}', '{"id":3,"country":"DE"}']);
    expect(rejected!.map((r) => [r.key, r.meta.error!.message])).toEqual([[2, 'the broker rejected the message: Spool Over Quota']]);
    await sink.close();
    expect(() => solaceSinkWith(broker).configSchema.parse({ connection: 'bus', topic: 't', queue: 'q' })).toThrow(/either topic or queue/);
  });

  it('a session that goes down under a batch fails it; the next write reconnects', async () => {
    const broker = new FakeBroker();
    broker.addQueue('OUT');
    const sink = await create<SinkInstance>(solaceSinkWith(broker), { connection: 'bus', queue: 'OUT' }, conn);
    await sink.open();
    const write = sink.write([rec({ id: 1 })]);
    broker.crash();
    await expect(write).rejects.toThrow(/went down before every message was acknowledged/);
    broker.restart();
    await sink.write([rec({ id: 1 })]);
    expect(broker.texts('OUT')).toEqual(['{"id":1}']);
    expect(broker.connects).toBe(2);
    await sink.close();
  });
});

describe('solace.source → solace.sink in a flow across a broker crash (fake broker)', () => {
  it('waits, reconnects and goes on: every message reaches the output queue, the input queue ends empty', async () => {
    const N = 2000;
    const broker = brokerWith('IN', Array.from({ length: N }, (_, i) => ({ id: i })));
    broker.addQueue('OUT');
    const registry = new NodeRegistry([...NODE_TYPES.filter((t) => !t.type.startsWith('solace.')), solaceSourceWith(broker) as NodeType, solaceSinkWith(broker) as NodeType]);
    const plan = compileFlow(
      {
        apiVersion: 'sluice/v1',
        name: 'solace-crash',
        settings: { batchSize: 100, retry: { attempts: 100, backoffMs: 20, maxBackoffMs: 100 } },
        connections: { bus: { type: 'solace', url: 'tcp://broker:55555' } },
        nodes: [
          { id: 'in', type: 'solace.source', config: { connection: 'bus', queue: 'IN', keyField: 'id', reconnectMaxMs: 100 } },
          { id: 'out', type: 'solace.sink', config: { connection: 'bus', queue: 'OUT' } },
        ],
        edges: [{ from: 'in', to: 'out' }],
      },
      registry,
    );
    const store = new SqliteCheckpointStore(join(tempDir(), 'state.db'));
    const log: string[] = [];
    const flow = new FlowRun(plan, { store, log: { info: (m) => log.push(m), warn: (m) => log.push(m), error: (m) => log.push(m) } });
    const done: Promise<RunSummary> = flow.run();
    const until = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const ids = () => new Set(broker.texts('OUT').map((t) => JSON.parse(t).id as number));
    try {
      await until(() => ids().size >= 300, 'some messages through');
      broker.crash();
      await new Promise((r) => setTimeout(r, 200));
      expect(flow.status).toBe('running');
      broker.restart();
      await until(() => ids().size === N && broker.texts('IN').length === 0, `all ${N} through and IN settled`);
      expect(log.join('\n')).toMatch(/Solace session down/);
      expect(log.join('\n')).toMatch(/Solace session up again/);
    } finally {
      flow.stop();
      const summary = await done;
      expect(summary.status, summary.error).toBe('stopped');
      await store.close();
    }
    // at-least-once: duplicates possible around the crash, never a loss
    expect(broker.texts('OUT').length).toBeGreaterThanOrEqual(N);
  });
});
