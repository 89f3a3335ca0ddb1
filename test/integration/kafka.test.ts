/**
 * kafka.source / kafka.sink against a real Kafka 4.4 broker (KAFKA_BROKERS: unless given, the private KRaft
 * broker the global set-up starts, test/setup/global-services.ts). One file, run in order: the last test
 * kills and restarts the broker (KAFKA_DIR), which no other test may see.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { KafkaMessage } from 'kafkajs';
import { probePostgres, scratchPostgres, service } from '../helpers/services.js';
import { create, tempDir } from '../helpers/node-harness.js';
import { startCli, type CliResult } from '../helpers/cli.js';
import { startServer } from '../helpers/server-process.js';
import { createTopic, endOffsets, groupOffsets, groupState, probeKafka, probeStartedKafka, produce, readTopic, topicName } from '../helpers/kafka.js';
import { KAFKA_SASL, killKafka, runKafka } from '../setup/servers.js';
import type { SinkInstance, SluiceRecord, SourceBatch, SourceInstance } from '../../runtime/index.js';
import { kafkaSource } from '../../nodes/kafka/source.js';
import { kafkaSink } from '../../nodes/kafka/sink.js';
import { testConnection } from '../../nodes/kafka/connection.js';

const KAFKA = await service('Kafka', 'KAFKA_BROKERS', '127.0.0.1:9092', probeStartedKafka);
const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const brokers = KAFKA.url;
const cluster = { brokers: brokers.split(',') };

const open: { close(): Promise<void> }[] = [];
const children: ReturnType<typeof startCli>['child'][] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); // a failed test leaves no flow running
  await Promise.all(open.splice(0).map((s) => s.close().catch(() => undefined)));
});

async function source(config: Record<string, unknown>, flowName = 'kafka-test'): Promise<SourceInstance> {
  const s = await create<SourceInstance>(kafkaSource, { ...cluster, ...config }, { flowName });
  open.push(s);
  return s;
}

/** reads batches until `n` records and errors arrived (a Kafka source never ends by itself) */
async function readN(s: SourceInstance, n: number, ms = 20_000): Promise<{ records: SluiceRecord[]; errors: SluiceRecord[]; last?: SourceBatch }> {
  const records: SluiceRecord[] = [];
  const errors: SluiceRecord[] = [];
  let last: SourceBatch | undefined;
  const deadline = Date.now() + ms;
  while (records.length + errors.length < n) {
    if (Date.now() > deadline) throw new Error(`read ${records.length + errors.length} of ${n} within ${ms} ms`);
    const b = await s.read();
    if (!b) continue;
    last = b;
    records.push(...b.records);
    errors.push(...(b.errors ?? []));
  }
  return { records, errors, last };
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const rec = (op: SluiceRecord['op'], key: unknown, value: Record<string, unknown> | null, extra: Partial<SluiceRecord> = {}, meta: Record<string, unknown> = {}): SluiceRecord => ({ op, key, value, meta, ...extra });

describe.skipIf(!KAFKA.available)('kafka connection', () => {
  it('test-connection names the cluster, its brokers and topics; an unreachable broker says so', async () => {
    const topic = topicName('conn');
    await createTopic(brokers, topic);
    const ok = await testConnection({ type: 'kafka', brokers: brokers.split(',') });
    expect(ok).toMatchObject({ ok: true, brokers: brokers.split(','), clusterId: expect.any(String) });
    expect(ok.topics).toContain(topic);
    expect(ok.message).toMatch(/reached Kafka cluster .* 1 broker\(s\)/);
    const viaUrl = await testConnection({ url: `kafka://${brokers}` });
    expect(viaUrl.ok).toBe(true);
    const refused = await testConnection({ type: 'kafka', brokers: ['127.0.0.1:1'] }, { timeoutMs: 3000 });
    expect(refused).toEqual({ ok: false, message: expect.stringMatching(/127\.0\.0\.1:1: connection refused/) });
    const bad = await testConnection({ type: 'kafka', brokers: ['no-port'] });
    expect(bad).toEqual({ ok: false, message: expect.stringMatching(/brokers\.0: a broker is host:port/) });
  });
});

// the private broker's SASL_PLAINTEXT listener (test/setup/servers.ts); none when KAFKA_BROKERS was given
const SASL_BROKERS = process.env.KAFKA_SASL_BROKERS;
if (KAFKA.available && !SASL_BROKERS) process.stderr.write('\n\x1b[33m!!! SKIPPING the Kafka SASL tests: KAFKA_SASL_BROKERS is not set (the private test broker sets it; a broker given by KAFKA_BROKERS has none)\x1b[0m\n\n');

describe.skipIf(!KAFKA.available || !SASL_BROKERS)('kafka with SASL credentials (PLAIN and SCRAM-SHA-256)', () => {
  const bus = (mechanism: string, password = KAFKA_SASL.password) => ({ type: 'kafka', brokers: SASL_BROKERS!.split(','), sasl: { mechanism, username: KAFKA_SASL.username, password } });
  const withBus = (entry: Record<string, unknown>) => ({ flowName: 'kafka-sasl', connection: (name: string) => (name === 'bus' ? entry : undefined) });

  it('kafka.sink writes with SCRAM-SHA-256 and kafka.source reads back with PLAIN; test-connection says what it reached', async () => {
    const topic = topicName('sasl');
    await createTopic(brokers, topic);
    const sink = await create<SinkInstance>(kafkaSink, { connection: 'bus', topic }, withBus(bus('scram-sha-256')));
    open.push(sink);
    await sink.open();
    await sink.write([rec('c', { id: 1 }, { id: 1, v: 'a' }), rec('c', { id: 2 }, { id: 2, v: 'b' })]);
    const s = await create<SourceInstance>(kafkaSource, { connection: 'bus', topics: [topic], group: `g-${topic}` }, withBus(bus('plain')));
    open.push(s);
    await s.open(undefined);
    const { records } = await readN(s, 2);
    expect(records.map((r) => r.value).sort((a, b) => Number(a!.id) - Number(b!.id))).toEqual([{ id: 1, v: 'a' }, { id: 2, v: 'b' }]);
    const ok = await testConnection(bus('scram-sha-256'));
    expect(ok).toMatchObject({ ok: true });
    expect(ok.topics).toContain(topic);
  });

  it('a wrong password is a clear error naming the authentication, not a stack trace; the password is not in it', async () => {
    const bad = await testConnection(bus('plain', 'not-the-password'), { timeoutMs: 10_000 });
    expect(bad.ok).toBe(false);
    expect(bad.message).toMatch(/authentication/i);
    expect(bad.message).not.toContain('not-the-password');
    const sink = await create<SinkInstance>(kafkaSink, { connection: 'bus', topic: topicName('sasl-bad') }, withBus(bus('scram-sha-256', 'not-the-password')));
    open.push(sink);
    const err = await sink.open().then(() => sink.write([rec('c', { id: 1 }, { id: 1 })])).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/authentication/i);
    expect(err?.message).not.toContain('not-the-password');
    expect(err?.message).not.toMatch(/\n\s+at /);
  });
});

// the private broker's SSL listener and its CA (test/setup/servers.ts); none when KAFKA_BROKERS was given
const TLS_BROKERS = process.env.KAFKA_TLS_BROKERS;
const TLS_CA = process.env.KAFKA_TLS_CA;
if (KAFKA.available && !(TLS_BROKERS && TLS_CA)) process.stderr.write('\n\x1b[33m!!! SKIPPING the Kafka TLS tests: KAFKA_TLS_BROKERS / KAFKA_TLS_CA are not set (the private test broker sets them; a broker given by KAFKA_BROKERS has none)\x1b[0m\n\n');

describe.skipIf(!KAFKA.available || !TLS_BROKERS || !TLS_CA)('kafka over TLS (the CA from the connection)', () => {
  const bus = (tls: unknown) => ({ type: 'kafka', brokers: TLS_BROKERS!.split(','), tls });
  const withBus = (entry: Record<string, unknown>) => ({ flowName: 'kafka-tls', connection: (name: string) => (name === 'bus' ? entry : undefined) });
  // a CA that did not sign the broker's certificate: the first of Node's bundled roots
  const otherCa = rootCertificates[0];

  it('kafka.sink writes and kafka.source reads back over TLS, the CA as PEM text and as a file; test-connection says what it reached', async () => {
    const topic = topicName('tls');
    await createTopic(brokers, topic);
    const sink = await create<SinkInstance>(kafkaSink, { connection: 'bus', topic }, withBus(bus({ ca: readFileSync(TLS_CA!, 'utf8') })));
    open.push(sink);
    await sink.open();
    await sink.write([rec('c', { id: 1 }, { id: 1, v: 'a' }), rec('c', { id: 2 }, { id: 2, v: 'b' })]);
    const s = await create<SourceInstance>(kafkaSource, { connection: 'bus', topics: [topic], group: `g-${topic}` }, withBus(bus({ ca: TLS_CA })));
    open.push(s);
    await s.open(undefined);
    const { records } = await readN(s, 2);
    expect(records.map((r) => r.value).sort((a, b) => Number(a!.id) - Number(b!.id))).toEqual([{ id: 1, v: 'a' }, { id: 2, v: 'b' }]);
    const ok = await testConnection(bus({ ca: readFileSync(TLS_CA!, 'utf8') }));
    expect(ok).toMatchObject({ ok: true });
    expect(ok.topics).toContain(topic);
  });

  it('a wrong CA (or none) is a clear error naming TLS and tls.ca, not a stack trace nor a hang', async () => {
    for (const tls of [{ ca: otherCa }, true]) {
      const bad = await testConnection(bus(tls), { timeoutMs: 10_000 });
      expect(bad.ok).toBe(false);
      expect(bad.message).toMatch(/TLS failed.*tls\.ca/);
    }
    const sink = await create<SinkInstance>(kafkaSink, { connection: 'bus', topic: topicName('tls-bad') }, withBus(bus({ ca: otherCa })));
    open.push(sink);
    const started = Date.now();
    const err = await sink.open().then(() => sink.write([rec('c', { id: 1 }, { id: 1 })])).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/TLS failed.*tls\.ca/);
    expect(err?.message).not.toMatch(/\n\s+at /);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe.skipIf(!KAFKA.available)('kafka connection in the server (the editor\'s Test button)', () => {
  it('stores a kafka connection with its SASL password write-only, and its test says what was reached', { timeout: 60_000 }, async () => {
    expect(existsSync(join(import.meta.dirname, '../../dist/server/main.js')), 'dist/ is built').toBe(true);
    const server = await startServer();
    try {
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await server.fetch(path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
        return { status: res.status, text: await res.text() };
      };
      const types = JSON.parse((await call('GET', '/api/connection-types')).text) as { type: string; configSchema: { properties: Record<string, unknown> } }[];
      expect(Object.keys(types.find((t) => t.type === 'kafka')!.configSchema.properties)).toEqual(expect.arrayContaining(['brokers', 'clientId', 'sasl', 'tls']));
      expect((await call('POST', '/api/connections', { name: 'bus', type: 'kafka', config: { brokers: brokers.split(',') } })).status).toBe(201);
      const ok = JSON.parse((await call('POST', '/api/connections/bus/test')).text);
      expect(ok).toMatchObject({ ok: true, message: expect.stringMatching(/^reached Kafka cluster .* 1 broker\(s\)/), details: { brokers: brokers.split(',') } });
      const secretWord = 'kafka-sasl-secret-3141';
      expect((await call('POST', '/api/connections', { name: 'sasl', type: 'kafka', config: { brokers: ['127.0.0.1:1'], sasl: { mechanism: 'plain', username: 'u', password: secretWord } } })).status).toBe(201);
      const stored = await call('GET', '/api/connections/sasl');
      expect(stored.status).toBe(200);
      expect(stored.text).not.toContain(secretWord);
      const refused = await call('POST', '/api/connections/sasl/test');
      expect(JSON.parse(refused.text)).toMatchObject({ ok: false, error: expect.stringMatching(/127\.0\.0\.1:1: connection refused/) });
      expect(refused.text).not.toContain(secretWord);
      const bad = await call('POST', '/api/connections', { name: 'bad', type: 'kafka', config: { brokers: ['no-port'] } });
      expect(bad.status).toBe(400);
      expect(bad.text).toMatch(/brokers/);
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!KAFKA.available)('kafka.sink → kafka.source', () => {
  it('round-trips a change stream as envelopes: op, key, before, table and headers; the tombstone after a delete is not a second delete', async () => {
    const topic = topicName('envelope');
    const sink = await create<SinkInstance>(kafkaSink, { ...cluster, topic, envelope: true, tombstones: true });
    await sink.open();
    await sink.write([
      rec('r', { id: 1 }, { id: 1, name: 'a' }, {}, { table: 'shop.items', headers: { trace: 't-1' } }),
      rec('c', { id: 2 }, { id: 2, name: 'b' }, {}, { table: 'shop.items' }),
      rec('u', { id: 1 }, { id: 1, name: 'a2' }, { before: { id: 1, name: 'a' } }, { table: 'shop.items' }),
      rec('d', { id: 2 }, null, { before: { id: 2, name: 'b' } }, { table: 'shop.items' }),
    ]);
    await sink.close();
    const raw = await readTopic(brokers, topic, 5);
    expect(raw.map((m) => m.value === null)).toEqual([false, false, false, false, true]); // the delete's envelope, then its tombstone

    const src = await source({ topics: [topic], group: `g-${topic}` });
    await src.open(undefined);
    const { records, errors } = await readN(src, 4);
    expect(errors).toEqual([]);
    expect(records.map((r) => [r.op, r.key, r.value, r.before])).toEqual([
      ['r', { id: 1 }, { id: 1, name: 'a' }, undefined],
      ['c', { id: 2 }, { id: 2, name: 'b' }, undefined],
      ['u', { id: 1 }, { id: 1, name: 'a2' }, { id: 1, name: 'a' }],
      ['d', { id: 2 }, null, { id: 2, name: 'b' }],
    ]);
    expect(records[0].meta).toMatchObject({ table: 'shop.items', topic, partition: 0, offset: '0', headers: { trace: 't-1' } });
    expect(records[3].meta).toMatchObject({ offset: '3' });
  });

  it('rows, tombstones, text and bytes keys and values, headers; routing by table; nothing committed before committed()', async () => {
    const base = topicName('rows');
    const sink = await create<SinkInstance>(kafkaSink, { ...cluster, topic: `${base}.{table}`, keyFormat: 'text', compression: 'gzip' });
    await sink.open();
    await sink.write([
      rec('c', 'k1', { id: 1, n: 1.5 }, {}, { table: 'shop.a', headers: { from: 'x' } }),
      rec('c', 'k2', { id: 2 }, {}, { table: 'shop.b' }),
      rec('d', 'k1', null, { before: { id: 1 } }, { table: 'shop.a' }),
    ]);
    await sink.close();
    const group = `g-${base}`;
    const src = await source({ topics: [`${base}.*`], group, keyFormat: 'text' });
    await src.open(undefined);
    const { records, last } = await readN(src, 3);
    const byTopic = (t: string) => records.filter((r) => r.meta.topic === t).map((r) => [r.op, r.key, r.value, r.meta.headers]);
    expect(byTopic(`${base}.a`)).toEqual([
      ['c', 'k1', { id: 1, n: 1.5 }, { from: 'x' }],
      ['d', 'k1', null, undefined],
    ]);
    expect(byTopic(`${base}.b`)).toEqual([['c', 'k2', { id: 2 }, undefined]]);
    expect(last!.position).toMatchObject({ offsets: {} });

    expect((await groupOffsets(brokers, group, `${base}.a`))[0].offset).toBe('-1');
    await src.committed!(last!.position);
    await until(async () => (await groupOffsets(brokers, group, `${base}.a`))[0].offset === '2', 'the commit');
    expect((await groupOffsets(brokers, group, `${base}.a`))[0].metadata).toBe('sluice:kafka-test/n1');

    const bytes = await source({ topics: [`${base}.b`], group: `g2-${base}`, keyFormat: 'bytes', valueFormat: 'text' });
    await bytes.open(undefined);
    const got = await readN(bytes, 1);
    expect(got.records[0].key).toEqual({ $base64: Buffer.from('k2').toString('base64') });
    expect(got.records[0].value).toEqual({ value: '{"id":2}' });
  });

  it('sends messages that are not JSON or too large to the error port with topic, partition and offset, and goes on', async () => {
    const topic = topicName('bad');
    await createTopic(brokers, topic, 2);
    await produce(brokers, topic, [
      { key: '1', value: '{"id":1}', partition: 1 },
      { key: '2', value: 'not json {', partition: 1 },
      { key: '3', value: JSON.stringify({ id: 3, pad: 'x'.repeat(3000) }), partition: 1 },
      { key: '4', value: '{"id":4}', partition: 1 },
      { key: '5', value: '[1,2]', partition: 0 },
    ]);
    const src = await source({ topics: [topic], group: `g-${topic}`, maxMessageBytes: 2000 });
    await src.open(undefined);
    const { records, errors } = await readN(src, 5);
    expect(records.map((r) => r.value).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([{ id: 1 }, { id: 4 }, { value: [1, 2] }]);
    expect(errors.map((e) => [e.meta.partition, e.meta.offset, e.key])).toEqual([
      [1, '1', '2'],
      [1, '2', '3'],
    ]);
    expect(errors[0].meta.error!.message).toMatch(new RegExp(`^${topic} partition 1 offset 1: value is not JSON .*set valueFormat: text or bytes`));
    expect(errors[0].value).toEqual({ value: 'not json {' });
    expect(errors[1].meta.error!.message).toMatch(new RegExp(`^${topic} partition 1 offset 2: message of 30\\d\\d bytes is larger than maxMessageBytes \\(2000\\)`));
  });

  it('without a position, starts over from `start` where this node committed (--from-start) but takes the offsets another flow of the group committed', async () => {
    const topic = topicName('restart');
    await produce(brokers, topic, [1, 2, 3].map((id) => ({ value: JSON.stringify({ id }) })));
    const group = `g-${topic}`;
    const first = await source({ topics: [topic], group }, 'flow-a');
    await first.open(undefined);
    const a = await readN(first, 3);
    await first.committed!(a.last!.position);
    await first.close();
    expect((await groupOffsets(brokers, group, topic))[0]).toEqual({ offset: '3', metadata: 'sluice:flow-a/n1' });
    await produce(brokers, topic, [{ value: '{"id":4}' }]);

    // the same flow with its checkpoint forgotten reads everything again
    const again = await source({ topics: [topic], group }, 'flow-a');
    await again.open(undefined);
    expect((await readN(again, 4)).records.map((r) => r.value!.id)).toEqual([1, 2, 3, 4]);
    await again.close();
    // another flow joining the group goes on from the group's offset
    const other = await source({ topics: [topic], group }, 'flow-b');
    await other.open(undefined);
    expect((await readN(other, 1)).records.map((r) => r.value!.id)).toEqual([4]);
    await other.close();
    // a saved position ahead of the group's offset (a crash between checkpoint and commit) wins
    const resumed = await source({ topics: [topic], group }, 'flow-a');
    await produce(brokers, topic, [{ value: '{"id":5}' }]);
    await resumed.open({ offsets: { [topic]: { '0': '4' } } });
    expect((await readN(resumed, 1)).records.map((r) => r.value!.id)).toEqual([5]);
  });
});

// ---- flows through the CLI: killed, rebalanced, the broker restarted ------------------------------------

const built = () => existsSync(join(import.meta.dirname, '../../dist/nodes/kafka/source.js'));

/** about 1 ms per record: slow enough to kill a flow, or start a second one, in the middle */
const SLOW = '(value) => { const t = Date.now(); while (Date.now() - t < 1) {} return value; }';

function flowFile(dir: string, name: string, topic: string, group: string, opts: { slow?: boolean; forward?: string } = {}): string {
  const file = join(dir, `${name}.yaml`);
  const from = opts.slow ? 'slow' : 'src';
  writeFileSync(
    file,
    `apiVersion: sluice/v1
name: ${name}
settings: { batchSize: 50 }
connections:
  bus: { type: kafka, brokers: ['\${env:KAFKA_BROKERS}'] }
nodes:
  - { id: src, type: kafka.source, config: { connection: bus, topics: [${topic}], group: ${group}, sessionTimeoutMs: 6000 } }
${opts.slow ? `  - { id: slow, type: core.map, config: { code: ${JSON.stringify(SLOW)} } }\n` : ''}  - { id: wire, type: file.sink, config: { path: ${join(dir, `${name}.jsonl`)} } }
  - { id: db, type: sqlite.sink, config: { path: ${join(dir, `${name}.db`)}, table: items, keys: [id] } }
${opts.forward ? `  - { id: fwd, type: kafka.sink, config: { connection: bus, topic: ${opts.forward}, keyFields: [id] } }\n` : ''}edges:
${opts.slow ? '  - { from: src, to: slow }\n' : ''}  - { from: ${from}, to: wire }
  - { from: ${from}, to: db }
${opts.forward ? `  - { from: ${from}, to: fwd }\n` : ''}`,
  );
  return file;
}

/** distinct ids in the flow's SQLite target (its idempotent sink) */
function stored(dir: string, name: string): Set<number> {
  const path = join(dir, `${name}.db`);
  if (!existsSync(path)) return new Set();
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return new Set((db.prepare('SELECT id FROM items').all() as { id: number }[]).map((r) => r.id));
  } catch {
    return new Set(); // the table is created with the first batch
  } finally {
    db.close();
  }
}

/** the ids each delivery on the wire carried (the append-only file sink: duplicates stay) */
function wire(dir: string, name: string): number[] {
  const path = join(dir, `${name}.jsonl`);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [(JSON.parse(l) as { id: number }).id];
      } catch {
        return []; // a line torn by the kill
      }
    });
}

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const messages = (from: number, to: number) => ids(from, to).map((id) => ({ key: JSON.stringify({ id }), value: JSON.stringify({ id, v: `v${id}` }) }));
const sum = (o: Record<number, { offset: string }>) => Object.values(o).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);

function run(file: string, dir: string, name: string): { child: ReturnType<typeof startCli>['child']; done: Promise<CliResult> } {
  const started = startCli(['run', file, '--state', join(dir, `${name}.state.db`), '--quiet'], { env: { KAFKA_BROKERS: brokers } });
  children.push(started.child);
  // a flow that ends by itself failed: say why instead of waiting for what it will never do
  void started.done.then((r) => {
    if (r.signal === null && r.code !== 0) process.stderr.write(`flow ${name} ended with code ${r.code}: ${r.stderr.slice(-2000)}\n`);
  });
  return started;
}

describe.skipIf(!KAFKA.available)('kafka flows through the CLI', () => {
  it('SIGKILL mid-run: the restart loses nothing at the idempotent sink; the wire saw each message at least once; the group never committed past a delivery', { timeout: 120_000 }, async () => {
    expect(built(), 'dist/ is built (npx tsc -p .; npm test does it)').toBe(true);
    const dir = tempDir();
    const topic = topicName('kill');
    const group = `g-${topic}`;
    await createTopic(brokers, topic, 3);
    await produce(brokers, topic, messages(1, 3000));
    const file = flowFile(dir, 'kafka-kill', topic, group, { slow: true });

    const first = run(file, dir, 'kafka-kill');
    await until(() => wire(dir, 'kafka-kill').length >= 600, 'the first deliveries');
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const delivered = stored(dir, 'kafka-kill');
    expect(delivered.size).toBeLessThan(3000);
    const committed = await groupOffsets(brokers, group, topic);
    expect(sum(committed)).toBeLessThanOrEqual(delivered.size); // offsets are committed after the sinks acknowledged

    const second = run(file, dir, 'kafka-kill');
    await until(() => stored(dir, 'kafka-kill').size === 3000, 'every message at the sink');
    await until(async () => sum(await groupOffsets(brokers, group, topic)) === 3000, 'the group to commit the end');
    second.child.kill('SIGTERM');
    const end = await second.done;
    expect(end.code, end.stderr).toBe(0);
    expect([...stored(dir, 'kafka-kill')].sort((a, b) => a - b)).toEqual(ids(1, 3000));
    const onWire = wire(dir, 'kafka-kill');
    expect(new Set(onWire).size).toBe(3000);
    expect(onWire.length).toBeGreaterThanOrEqual(3000);
    process.stderr.write(`kafka SIGKILL test: ${onWire.length} deliveries on the wire for 3000 messages (${onWire.length - 3000} redelivered after the kill)\n`);
  });

  // Both flows' sinks are slow, so their sources sit on full buffers: a source must still take part in a
  // rebalance at once (it pauses its topics instead of waiting inside kafkajs), or b never gets partitions.
  it('two flows in one group share the partitions; when one stops, the other takes its partitions over; nothing is lost', { timeout: 300_000 }, async () => {
    expect(built()).toBe(true);
    const dir = tempDir();
    const topic = topicName('group');
    const group = `g-${topic}`;
    await createTopic(brokers, topic, 4);
    await produce(brokers, topic, messages(1, 2000));
    const a = run(flowFile(dir, 'kafka-group-a', topic, group, { slow: true }), dir, 'kafka-group-a');
    await until(() => stored(dir, 'kafka-group-a').size >= 200, 'flow a to start');
    const b = run(flowFile(dir, 'kafka-group-b', topic, group, { slow: true }), dir, 'kafka-group-b');
    // flow a rejoins at its next heartbeat, however full its buffer; the generous wait is for the start of
    // flow b on a loaded machine. Only then the second half is sent: sent earlier, flow a could have read
    // it all before b joined, and b would rightly get nothing
    await until(async () => {
      const g = await groupState(brokers, group);
      return g.state === 'Stable' && g.members === 2;
    }, 'flow b to join the group', 120_000);
    await produce(brokers, topic, messages(2001, 4000));
    await until(() => stored(dir, 'kafka-group-b').size > 0, 'flow b to read from its partitions', 60_000);
    const union = () => new Set([...stored(dir, 'kafka-group-a'), ...stored(dir, 'kafka-group-b')]);
    await until(() => union().size === 4000, 'both flows to read everything', 120_000);

    b.child.kill('SIGTERM');
    expect((await b.done).code).toBe(0);
    const bHad = stored(dir, 'kafka-group-b').size;
    await produce(brokers, topic, messages(4001, 5000));
    await until(() => union().size === 5000, 'flow a to take over the partitions of b', 120_000);
    await until(async () => sum(await groupOffsets(brokers, group, topic)) === 5000, 'the group to commit the end');
    a.child.kill('SIGTERM');
    const endA = await a.done;
    expect(endA.code, endA.stderr).toBe(0);

    expect([...union()].sort((x, y) => x - y)).toEqual(ids(1, 5000));
    expect(bHad).toBeGreaterThan(0);
    expect(stored(dir, 'kafka-group-a').size).toBeGreaterThan(0);
    expect(await endOffsets(brokers, topic)).toEqual(Object.fromEntries(Object.entries(await groupOffsets(brokers, group, topic)).map(([p, o]) => [p, o.offset])));
  });

  it.skipIf(!PG.available)('PostgreSQL CDC → kafka.sink (envelope) → kafka.source → core.aggregate → postgres.sink: inserts, updates and deletes, exact at the end', { timeout: 180_000 }, async () => {
    expect(built()).toBe(true);
    const db = `sluice_kafka_${Math.random().toString(36).slice(2, 8)}`;
    const scratch = await scratchPostgres(PG.url, db);
    const url = scratch.url;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const flows: ReturnType<typeof run>[] = [];
    try {
      const q = async (sql: string) => (await client.query(sql)).rows as Record<string, unknown>[];
      await q('CREATE TABLE public.orders (id integer PRIMARY KEY, country text NOT NULL, amount integer NOT NULL)');
      await q('ALTER TABLE public.orders REPLICA IDENTITY FULL'); // updates and deletes carry the row before: the aggregate takes it back out
      await q("INSERT INTO public.orders SELECT g, (ARRAY['FR','DE','IN','BR'])[1 + g % 4], g % 97 FROM generate_series(1, 300) g");
      const dir = tempDir();
      const topic = topicName('cdc');
      await createTopic(brokers, topic, 3);
      const toKafka = join(dir, 'pg-to-kafka.yaml');
      writeFileSync(
        toKafka,
        `apiVersion: sluice/v1
name: pg-to-kafka
settings: { batchSize: 100 }
nodes:
  - { id: src, type: postgres.source, config: { url: '\${env:E2E_PG_URL}', tables: public.orders, mode: snapshot+cdc } }
  - { id: bus, type: kafka.sink, config: { brokers: ['\${env:KAFKA_BROKERS}'], topic: ${topic}, envelope: true, tombstones: true } }
edges:
  - { from: src, to: bus }
`,
      );
      const toTotals = join(dir, 'kafka-to-totals.yaml');
      writeFileSync(
        toTotals,
        `apiVersion: sluice/v1
name: kafka-to-totals
settings: { batchSize: 100, checkpointIntervalMs: 200 }
nodes:
  - { id: bus, type: kafka.source, config: { brokers: ['\${env:KAFKA_BROKERS}'], topics: [${topic}], group: g-${topic} } }
  - id: totals
    type: core.aggregate
    config:
      groupBy: [country]
      measures: [{ name: orders, fn: count }, { name: revenue, fn: sum, field: amount }]
  - { id: dst, type: postgres.sink, config: { url: '\${env:E2E_PG_URL}', table: public.totals, keys: [country] } }
edges:
  - { from: bus, to: totals }
  - { from: totals, to: dst }
`,
      );
      const start = (file: string, name: string) => {
        const f = startCli(['run', file, '--state', join(dir, `${name}.state.db`), '--quiet'], { env: { KAFKA_BROKERS: brokers, E2E_PG_URL: url } });
        children.push(f.child);
        flows.push(f);
        return f;
      };
      start(toKafka, 'pg-to-kafka');
      start(toTotals, 'kafka-to-totals');
      const expected = async () =>
        JSON.stringify(await q('SELECT country, count(*)::int AS orders, sum(amount)::int AS revenue FROM public.orders GROUP BY country ORDER BY country'));
      const actual = async () => {
        try {
          return JSON.stringify(await q('SELECT country, orders::int AS orders, revenue::int AS revenue FROM public.totals WHERE orders::int > 0 ORDER BY country'));
        } catch {
          return 'no table yet';
        }
      };
      await until(async () => (await actual()) === (await expected()), 'the totals of the snapshot', 90_000);

      await q("INSERT INTO public.orders SELECT g, (ARRAY['FR','DE','IN','BR','JP'])[1 + g % 5], g % 89 FROM generate_series(301, 500) g");
      await q("UPDATE public.orders SET country = 'JP', amount = amount + 1 WHERE id % 7 = 0");
      await q('UPDATE public.orders SET amount = amount * 2 WHERE id % 11 = 0');
      await q('DELETE FROM public.orders WHERE id % 13 = 0');
      await q("DELETE FROM public.orders WHERE country = 'BR'");
      await until(async () => (await actual()) === (await expected()), 'the totals after inserts, updates and deletes', 90_000);
      expect(await actual()).not.toMatch(/"BR"/);
    } finally {
      for (const f of flows) f.child.kill('SIGTERM');
      const ends = await Promise.all(flows.map((f) => f.done));
      await client.end();
      await scratch.drop();
      for (const e of ends) expect(e.code, e.stderr).toBe(0);
    }
  });

  // last: it restarts the broker
  it('a broker restart mid-run: the flow waits, reconnects and goes on, reading and writing', { timeout: 180_000 }, async () => {
    expect(built()).toBe(true);
    const kafkaDir = process.env.KAFKA_DIR;
    if (!kafkaDir) {
      process.stderr.write('\n\x1b[33m!!! SKIPPING the Kafka broker restart test: KAFKA_BROKERS was given, so this run has no broker of its own to restart (KAFKA_DIR)\x1b[0m\n\n');
      return;
    }
    const dir = tempDir();
    const topic = topicName('restart-in');
    const out = topicName('restart-out');
    await createTopic(brokers, topic, 2);
    await createTopic(brokers, out, 2);
    await produce(brokers, topic, messages(1, 1000));
    const flow = run(flowFile(dir, 'kafka-broker-restart', topic, `g-${topic}`, { forward: out }), dir, 'kafka-broker-restart');
    await until(() => stored(dir, 'kafka-broker-restart').size === 1000, 'the first messages');

    killKafka(kafkaDir);
    await until(async () => !(await probeKafka(brokers).then(() => true, () => false)), 'the broker to be down');
    await runKafka(kafkaDir);
    await produce(brokers, topic, messages(1001, 2000));
    await until(() => stored(dir, 'kafka-broker-restart').size === 2000, 'the messages after the restart', 120_000);
    expect(flow.child.exitCode).toBeNull(); // still running

    // at-least-once on the wire: a batch sent again across the restart may repeat messages, never lose one
    const ids = (ms: KafkaMessage[]) => new Set(ms.map((m) => (JSON.parse(m.value!.toString()) as { id: number }).id));
    const forwarded = await readTopic(brokers, out, 2000, 60_000, (ms) => ids(ms).size >= 2000);
    expect(ids(forwarded).size).toBe(2000);
    flow.child.kill('SIGTERM');
    const end = await flow.done;
    expect(end.code, end.stderr).toBe(0);
  });
});
