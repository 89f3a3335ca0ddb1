/**
 * mongodb.source / mongodb.sink / the mongodb reference of core.denormalize / testConnection, against
 * the server at MONGO_URL (unless given, the in-memory mongo-java-server 1.47.0 that the global set-up
 * starts, test/setup/global-services.ts and test/servers/mongo/Main.java).
 * Point MONGO_URL at a real replica set (mongodb://host:27017/?replicaSet=rs0) and every test here runs
 * against it unchanged; point it at a real standalone mongod and the change-stream tests are skipped
 * (loudly) and the "standalone server" error test runs instead.
 *
 * What was run against what (mongo-java-server 1.47.0, here):
 * - snapshot, resume mid-snapshot, mixed-type _ids, the value mapping, the sink's bulkWrite
 *   (replaceOne upsert, deleteOne, unique index on non-_id keys), nested documents through a real flow
 *   (sqlite.source → core.denormalize nest → mongodb.sink → mongodb.source → mongodb.sink), the
 *   reference table, testConnection, and the error cases: all run against mongo-java-server.
 * - change streams: mongo-java-server implements collection-level change streams (what mongodb.source
 *   opens: one per collection) with resumeAfter and startAtOperationTime, and they run here: c/u/d end
 *   to end, the snapshot→stream handoff, resuming from a saved token, drop ending the stream. Where it
 *   differs from MongoDB (and the source copes): it reports a replace as "update", puts the update spec
 *   in documentKey for $set updates (the source takes the _id from the looked-up full document), sends
 *   a drop event without `ns` to every stream of the database (the source checks whether its own
 *   collection is gone), and hands a new stream no postBatchResumeToken (the source then starts just
 *   after the newest oplog entry). Database- and cluster-level streams do not work on it (not used).
 *   None of this was run against a real replica set here: no mongod can run on this machine.
 * - wrong credentials: mongo-java-server has no authentication; it answers the SASL handshake with
 *   "no such command: saslStart", which the connector reports as an authentication failure, as it does
 *   MongoDB's AuthenticationFailed (code 18): the same test runs on both.
 * - TLS (tls.ca as a file or PEM text, rejectUnauthorized: false, an untrusted certificate, a TLS-only
 *   server reached without TLS): against a second mongo-java-server instance that speaks TLS only
 *   (MONGO_TLS_URL; its CA: MONGO_TLS_CA, default ~/.cache/sluice/mongo-java-server/tls/ca.pem, both
 *   made by the global set-up).
 * - standalone mongod ("change streams need a replica set"): only against a real standalone server;
 *   skipped here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Binary, Decimal128, Long, MongoClient, ObjectId, Timestamp, type Db } from 'mongodb';
import { service } from '../helpers/services.js';
import { create, processAll, readAll, tempDir, writeAll } from '../helpers/node-harness.js';
import { ConfigError, NodeError } from '../../runtime/errors.js';
import type { SinkInstance, SourceInstance, TransformInstance } from '../../runtime/node-api.js';
import type { SluiceRecord } from '../../runtime/records.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun, type RunSummary } from '../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { createRegistry } from '../../nodes/catalog.js';
import { mongodbSource } from '../../nodes/mongodb/source.js';
import { mongodbSink } from '../../nodes/mongodb/sink.js';
import { serverInfo, testConnection, type ServerInfo } from '../../nodes/mongodb/connection.js';
import { denormalize } from '../../nodes/catalog.js';

let info: ServerInfo | undefined;
const mongo = await service('MongoDB', 'MONGO_URL', 'mongodb://127.0.0.1:27018/?directConnection=true', async (url) => {
  const c = new MongoClient(url, { serverSelectionTimeoutMS: 3000 });
  try {
    await c.connect();
    info = await serverInfo(c);
  } finally {
    await c.close();
  }
});
const URL_ = mongo.url;
/** the TLS-only instance the global set-up starts, and the test CA that signed its certificate */
const TLS_CA = process.env.MONGO_TLS_CA ?? join(process.env.SLUICE_CACHE ?? join(homedir(), '.cache/sluice'), 'mongo-java-server/tls/ca.pem');
const tlsMongo = await service('MongoDB over TLS', 'MONGO_TLS_URL', 'mongodb://127.0.0.1:27019/?directConnection=true', async (url) => {
  const c = new MongoClient(url, { serverSelectionTimeoutMS: 3000, tls: true, ca: readFileSync(TLS_CA, 'utf8') });
  try {
    await c.connect();
  } finally {
    await c.close();
  }
});
const serverName = info ? (info.mongoJavaServer ? `mongo-java-server ${info.mongoJavaServer}` : `MongoDB ${info.version} (${info.topology})`) : 'no server';
const streams = mongo.available && info !== undefined && (info.topology !== 'standalone' || info.mongoJavaServer !== undefined);
const standalone = mongo.available && info !== undefined && info.topology === 'standalone' && info.mongoJavaServer === undefined;
if (mongo.available) process.stderr.write(`\nmongodb tests run against ${serverName} at ${mongo.url}\n`);
if (standalone) {
  process.stderr.write(`\n\x1b[33m!!! SKIPPING MongoDB change-stream tests: ${serverName} is a standalone server; change streams need a replica set (set MONGO_URL to one)\x1b[0m\n\n`);
}

const DB = `sluice_test_${process.pid}_${Date.now().toString(36)}`;
const registry = createRegistry();
let client: MongoClient;
let db: Db;
/** a collection of untyped documents (any _id type) */
const coll = (name: string) => db.collection<any>(name);

const source = (config: Record<string, unknown>, overrides: Record<string, unknown> = {}) =>
  create<SourceInstance>(mongodbSource, { url: URL_, database: DB, ...config }, overrides);
const sink = (config: Record<string, unknown>) => create<SinkInstance>(mongodbSink, { url: URL_, database: DB, ...config });

/** opens a source, expects open() to fail, returns the error */
async function openError(src: SourceInstance, position?: unknown): Promise<Error> {
  try {
    await src.open(position);
  } catch (err) {
    await src.close();
    return err as Error;
  }
  await src.close();
  throw new Error('open() succeeded');
}

/** reads batches until `done(records so far)` holds; each read waits for changes (change streams) */
async function readUntil(src: SourceInstance, done: (records: SluiceRecord[]) => boolean): Promise<{ records: SluiceRecord[]; position: unknown }> {
  const records: SluiceRecord[] = [];
  let position: unknown;
  const deadline = Date.now() + 15_000;
  while (!done(records)) {
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, deadline - Date.now())).unref());
    const batch = await Promise.race([src.read(), timeout]);
    if (batch === 'timeout') throw new Error(`timed out; read so far: ${JSON.stringify(records.map((r) => [r.op, r.key]))}`);
    if (!batch) throw new Error('source ended');
    records.push(...batch.records);
    position = batch.position;
  }
  return { records, position };
}

/** applies records to a map by _id, as an idempotent sink would */
function apply(state: Map<string, unknown>, records: SluiceRecord[]): Map<string, unknown> {
  for (const r of records) {
    const id = JSON.stringify((r.key as { _id: unknown })._id);
    if (r.op === 'd') state.delete(id);
    else state.set(id, r.value);
  }
  return state;
}

async function contents(name: string): Promise<Map<string, unknown>> {
  const src = await source({ collections: [name] });
  const { records } = await readAll(src);
  return apply(new Map(), records);
}

beforeAll(async () => {
  if (!mongo.available) return;
  client = new MongoClient(URL_, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  db = client.db(DB);
});

afterAll(async () => {
  if (!client) return;
  await db.dropDatabase().catch(() => undefined);
  await client.close();
});

describe.skipIf(!mongo.available)(`mongodb snapshot and sink (${serverName})`, () => {
  it('maps BSON types to record values and back (ObjectId, Decimal128, Date, Binary, Long, Timestamp, nested arrays)', async () => {
    const id = new ObjectId();
    await coll('types').insertOne({
      _id: id,
      dec: Decimal128.fromString('12.30'),
      at: new Date('2024-05-01T12:00:00.000Z'),
      bin: new Binary(Buffer.from([0, 1, 2, 255])),
      small: Long.fromNumber(42),
      big: Long.fromString('9007199254740993'),
      ts: new Timestamp({ t: 1700000000, i: 3 }),
      n: 1.5,
      nested: { a: [{ x: 1, id: new ObjectId(id.toHexString()) }, { x: 2 }] },
      nothing: null,
    });
    const { records } = await readAll(await source({ collections: ['types'] }));
    expect(records).toHaveLength(1);
    const r = records[0];
    expect(r.op).toBe('r');
    expect(r.key).toEqual({ _id: id.toHexString() });
    expect(r.meta.table).toBe(`${DB}.types`);
    expect(r.value).toEqual({
      _id: id.toHexString(),
      dec: '12.30',
      at: '2024-05-01T12:00:00.000Z',
      bin: { $base64: Buffer.from([0, 1, 2, 255]).toString('base64') },
      small: 42,
      big: '9007199254740993',
      ts: { $timestamp: { t: 1700000000, i: 3 } },
      n: 1.5,
      nested: { a: [{ x: 1, id: id.toHexString() }, { x: 2 }] },
      nothing: null,
    });
    expect(JSON.parse(JSON.stringify(r.value))).toEqual(r.value); // records are plain JSON

    // back through the sink: ObjectId _id restored by objectIdFields, Binary and Timestamp by their tags
    await writeAll(await sink({ collection: 'types_copy', objectIdFields: ['_id'] }), [records]);
    const copy = (await coll('types_copy').findOne({ _id: id }))!;
    expect(copy).not.toBeNull();
    expect(copy.bin).toBeInstanceOf(Binary);
    expect(Buffer.from((copy.bin as Binary).buffer)).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(copy.ts).toBeInstanceOf(Timestamp);
    expect((copy.ts as Timestamp).t).toBe(1700000000);
    expect(copy.nested).toEqual({ a: [{ x: 1, id: id.toHexString() }, { x: 2 }] });
    expect(copy.dec).toBe('12.30'); // strings stay strings (documented)
  });

  it('upserts and deletes by key fields other than _id, with a unique index, the last record of a key winning', async () => {
    const w = await sink({ collection: 'people', keys: ['tenant', 'id'] });
    await w.open();
    const indexes = await coll('people').listIndexes().toArray();
    expect(indexes.find((ix) => ix.unique)?.key).toEqual({ tenant: 1, id: 1 });
    await w.write([
      { key: { tenant: 'a', id: 1 }, value: { tenant: 'a', id: 1, name: 'Ann', _id: 'ignored' }, op: 'c', meta: {} },
      { key: { tenant: 'a', id: 2 }, value: { tenant: 'a', id: 2, name: 'Bob' }, op: 'c', meta: {} },
      { key: { tenant: 'b', id: 1 }, value: { tenant: 'b', id: 1, name: 'Cy' }, op: 'c', meta: {} },
    ]);
    const firstId = (await coll('people').findOne({ tenant: 'a', id: 1 }))!._id;
    expect(firstId).toBeInstanceOf(ObjectId); // the record's _id is not written with other keys
    await w.write([
      { key: { tenant: 'a', id: 1 }, value: { tenant: 'a', id: 1, name: 'Anne', tags: ['x'] }, op: 'u', meta: {} },
      // a delete that carries only its key
      { key: { tenant: 'a', id: 2 }, value: null, op: 'd', meta: {} },
      // same key twice in one batch: the last one wins (deleted, then created again)
      { key: { tenant: 'b', id: 1 }, value: null, op: 'd', meta: {} },
      { key: { tenant: 'b', id: 1 }, value: { tenant: 'b', id: 1, name: 'Cyd' }, op: 'c', meta: {} },
      // created and deleted in the same batch: gone
      { key: { tenant: 'c', id: 9 }, value: { tenant: 'c', id: 9, name: 'Dee' }, op: 'c', meta: {} },
      { key: { tenant: 'c', id: 9 }, value: null, op: 'd', before: { tenant: 'c', id: 9 }, meta: {} },
    ]);
    await w.close();
    const docs = await coll('people').find({}, { projection: { _id: 0 } }).sort({ tenant: 1, id: 1 }).toArray();
    expect(docs).toEqual([
      { tenant: 'a', id: 1, name: 'Anne', tags: ['x'] },
      { tenant: 'b', id: 1, name: 'Cyd' },
    ]);
    expect((await coll('people').findOne({ tenant: 'a', id: 1 }))!._id).toEqual(firstId); // replaced in place
  });

  it('default keys [_id]: the _id comes from the record key (scalar, one field, several fields) and deletes find it', async () => {
    const w = await sink({ collection: 'byid' });
    await w.open();
    await w.write([
      { key: 7, value: { name: 'scalar' }, op: 'c', meta: {} },
      { key: { id: 8 }, value: { id: 8, name: 'one field' }, op: 'c', meta: {} },
      { key: { order_id: 1, line: 2 }, value: { order_id: 1, line: 2, name: 'compound' }, op: 'r', meta: {} },
      { key: { _id: 'own' }, value: { _id: 'own', name: 'has _id' }, op: 'c', meta: {} },
    ]);
    expect(await coll('byid').find().sort({ name: 1 }).toArray()).toEqual([
      { _id: { order_id: 1, line: 2 }, order_id: 1, line: 2, name: 'compound' },
      { _id: 'own', name: 'has _id' },
      { _id: 8, id: 8, name: 'one field' },
      { _id: 7, name: 'scalar' },
    ]);
    await w.write([
      { key: { id: 8 }, value: null, op: 'd', before: { id: 8, name: 'one field' }, meta: {} },
      { key: { order_id: 1, line: 2 }, value: null, op: 'd', meta: {} },
      { key: 7, value: { name: 'scalar again' }, op: 'u', meta: {} },
    ]);
    await w.close();
    expect(await coll('byid').find().sort({ name: 1 }).toArray()).toEqual([
      { _id: 'own', name: 'has _id' },
      { _id: 7, name: 'scalar again' },
    ]);
  });

  it('creates (op c / r) go as inserts; one whose _id exists (a replayed batch) is replaced instead, updates and deletes as before', async () => {
    const w = await sink({ collection: 'inserts' });
    await w.open();
    const stats = () => (w as unknown as { stats(): Record<string, number> }).stats();
    await w.write([
      { key: { id: 1 }, value: { id: 1, v: 'a' }, op: 'r', meta: {} },
      { key: { id: 2 }, value: { id: 2, v: 'b' }, op: 'c', meta: {} },
      { key: { id: 3 }, value: { id: 3, v: 'c' }, op: 'c', meta: {} },
    ]);
    expect(stats()).toEqual({ inserted: 3, replaced: 0, deleted: 0, conflicts: 0 });
    // the same keys again (a batch delivered twice), one new key, an update and a delete
    await w.write([
      { key: { id: 1 }, value: { id: 1, v: 'a2' }, op: 'r', meta: {} },
      { key: { id: 2 }, value: { id: 2, v: 'b2' }, op: 'c', meta: {} },
      { key: { id: 4 }, value: { id: 4, v: 'd' }, op: 'c', meta: {} },
      { key: { id: 3 }, value: null, op: 'd', meta: {} },
      { key: { id: 5 }, value: { id: 5, v: 'e' }, op: 'u', meta: {} },
    ]);
    expect(stats()).toEqual({ inserted: 4, replaced: 3, deleted: 1, conflicts: 2 });
    // a delete then a create of one key in one batch: the create wins, over a document that exists
    await w.write([
      { key: { id: 4 }, value: null, op: 'd', meta: {} },
      { key: { id: 4 }, value: { id: 4, v: 'd2' }, op: 'c', meta: {} },
    ]);
    await w.close();
    expect(await coll('inserts').find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, id: 1, v: 'a2' },
      { _id: 2, id: 2, v: 'b2' },
      { _id: 4, id: 4, v: 'd2' },
      { _id: 5, id: 5, v: 'e' },
    ]);
  });

  it('declared column types (meta.schema from a SQL source) pick the BSON types: Decimal128, Int64, Boolean, Date; finer times and other kinds as before', async () => {
    const schema = {
      table: 'shop.orders',
      key: ['id'],
      columns: [
        { name: 'id', kind: 'integer', source: 'bigint unsigned', nullable: false, bits: 64, unsigned: true },
        { name: 'amount', kind: 'decimal', source: 'decimal(20,6)', nullable: false, precision: 20, scale: 6 },
        { name: 'qty', kind: 'integer', source: 'int', nullable: true, bits: 32 },
        { name: 'paid', kind: 'boolean', source: 'tinyint(1)', nullable: true },
        { name: 'at', kind: 'timestamp', source: 'timestamp(3)', nullable: true, fraction: 3 },
        { name: 'local', kind: 'datetime', source: 'datetime', nullable: true, fraction: 0 },
        { name: 'fine', kind: 'timestamp', source: 'timestamp(6)', nullable: true, fraction: 6 },
        { name: 'day', kind: 'date', source: 'date', nullable: true },
        { name: 'note', kind: 'string', source: 'varchar(20)', nullable: true, length: 20 },
      ],
    };
    const w = await sink({ collection: 'declared' });
    await w.open();
    const row = (id: number | string, extra: Record<string, unknown>) => ({ id, amount: '12.300000', qty: 3, paid: 1, at: '2024-02-03T04:05:06.789Z', local: '2024-02-03 04:05:06', fine: '2024-02-03T04:05:06.123456Z', day: '2024-02-03', note: '007', ...extra });
    // the schema rides on the first record of the table in each batch only; the others are converted the same way
    await w.write([
      { key: { id: 1 }, value: row(1, {}), op: 'r', meta: { table: 'shop.orders', schema } },
      { key: { id: 2 }, value: row(2, { amount: '-0.000001', paid: 0, qty: null }), op: 'r', meta: { table: 'shop.orders' } },
    ]);
    await w.write([{ key: { id: '18446744073709551615' }, value: row('18446744073709551615', { amount: '99999999999999.999999' }), op: 'r', meta: { table: 'shop.orders' } }]);
    // another table without a schema: values as they are
    await w.write([{ key: { id: 9 }, value: { id: 9, amount: '1.50', paid: 1 }, op: 'r', meta: { table: 'shop.other' } }]);
    await w.close();
    const docs = await coll('declared').find({}, { promoteLongs: false }).toArray(); // an Int64 read back as a Long, not a number
    const byId = new Map(docs.map((d) => [String(d._id), d]));
    const one = byId.get('1')!;
    expect(one.id).toBeInstanceOf(Long);
    expect(one.amount).toEqual(Decimal128.fromString('12.300000'));
    expect(one.id.toString()).toBe('1');
    expect(one.qty).toBe(3); // an INT stays Int32
    expect(one.paid).toBe(true);
    expect(one.at).toEqual(new Date('2024-02-03T04:05:06.789Z'));
    expect(one.local).toEqual(new Date('2024-02-03T04:05:06Z'));
    expect([one.fine, one.day, one.note]).toEqual(['2024-02-03T04:05:06.123456Z', '2024-02-03', '007']); // a Date would lose the microseconds
    const two = byId.get('2')!;
    expect([two.amount, two.paid, two.qty]).toEqual([Decimal128.fromString('-0.000001'), false, null]);
    // beyond Int64: an unsigned BIGINT goes in as Decimal128, exact
    const big = docs.find((d) => d.amount?.toString?.() === '99999999999999.999999')!;
    expect(big.id).toEqual(Decimal128.fromString('18446744073709551615'));
    expect(byId.get('9')).toMatchObject({ amount: '1.50', paid: 1 });
  });

  it('declared key fields are converted in the filter as in the document; a batch opening with a delete still sets the types', async () => {
    const schema = {
      table: 'shop.accounts',
      key: ['id'],
      columns: [
        { name: 'id', kind: 'integer', source: 'bigint', nullable: false, bits: 64 },
        { name: 'balance', kind: 'decimal', source: 'decimal(12,2)', nullable: false, precision: 12, scale: 2 },
      ],
    };
    const w = await sink({ collection: 'declared_keys', keys: ['id'] });
    await w.open();
    const big = '9007199254740993'; // beyond 2^53: it travels as a string
    // the sink's first batch opens with a delete, which carries the schema: the create after it is typed by it
    await w.write([
      { key: { id: 5 }, value: null, before: { id: 5, balance: '5.00' }, op: 'd', meta: { table: 'shop.accounts', schema } },
      { key: { id: big }, value: { id: big, balance: '1.00' }, op: 'c', meta: { table: 'shop.accounts' } },
    ]);
    // an update of the same key finds that document: its filter holds the Int64 the document holds
    await w.write([{ key: { id: big }, value: { id: big, balance: '2.50' }, op: 'u', meta: { table: 'shop.accounts', schema } }]);
    await w.close();
    const docs = await coll('declared_keys').find({}, { promoteLongs: false, projection: { _id: 0 } }).toArray();
    expect(docs).toHaveLength(1);
    expect(docs[0].id).toEqual(Long.fromString(big));
    expect(docs[0].balance).toEqual(Decimal128.fromString('2.50'));
  });

  it('resumes a snapshot mid-collection from the committed position, across _ids of mixed BSON types', async () => {
    const oid = new ObjectId();
    const ids: unknown[] = [3, 1, 2.5, 'b', 'a', oid, new Date('2020-01-01T00:00:00Z'), 10, true];
    await coll('mixed').insertMany(ids.map((_id, i) => ({ _id, i })));
    await coll('other').insertMany([{ _id: 1 }, { _id: 2 }]);
    const expected = [1, 2.5, 3, 10, 'a', 'b', oid.toHexString(), true, '2020-01-01T00:00:00.000Z'];

    const whole = await readAll(await source({ collections: ['mixed', 'other'], chunkSize: 2 }));
    expect(whole.records.map((r) => (r.key as { _id: unknown })._id)).toEqual([...expected, 1, 2]);

    const first = await source({ collections: ['mixed', 'other'], chunkSize: 2 });
    await first.open(undefined);
    const got: SluiceRecord[] = [];
    let position: unknown;
    for (let i = 0; i < 3; i++) {
      const b = (await first.read())!;
      got.push(...b.records);
      position = b.position;
    }
    // progress: documents read per collection, estimatedDocumentCount, the phase
    const db = (first.progress!()!.tables![0].name as string).split('.')[0];
    expect(first.progress!()).toEqual({
      tables: [
        { name: `${db}.mixed`, phase: 'snapshot', done: 6, estimated: 9 },
        { name: `${db}.other`, phase: 'pending', done: 0, estimated: 2 },
      ],
    });
    await first.close();
    expect(got).toHaveLength(6);
    // the position is plain JSON (it goes through the checkpoint store as JSON)
    const stored = JSON.parse(JSON.stringify(position));
    const rest = await readAll(await source({ collections: ['mixed', 'other'], chunkSize: 2 }), stored);
    expect([...got, ...rest.records].map((r) => (r.key as { _id: unknown })._id)).toEqual([...expected, 1, 2]);
  });

  it('nests rows into documents through a flow (sqlite → core.denormalize nest → mongodb.sink) and copies them (mongodb.source → mongodb.sink)', async () => {
    const dir = tempDir('sluice-mongo-');
    const sdb = new Database(join(dir, 'shop.db'));
    sdb.exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount REAL);
      CREATE TABLE order_lines (id INTEGER PRIMARY KEY, order_id INTEGER, sku TEXT, qty INTEGER);`);
    const orders = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, customer: `c${i % 4}`, amount: (i + 1) * 10.5 }));
    const lines = Array.from({ length: 75 }, (_, i) => ({ id: i + 1, order_id: (i % 30) + 1, sku: `sku-${i}`, qty: (i % 3) + 1 }));
    for (const o of orders) sdb.prepare('INSERT INTO orders VALUES (?, ?, ?)').run(o.id, o.customer, o.amount);
    for (const l of lines) sdb.prepare('INSERT INTO order_lines VALUES (?, ?, ?, ?)').run(l.id, l.order_id, l.sku, l.qty);
    sdb.close();

    const run = async (doc: Record<string, unknown>): Promise<RunSummary> => {
      const store = new SqliteCheckpointStore(join(dir, `${String(doc.name)}.db`));
      const plan = compileFlow({ apiVersion: 'sluice/v1', connections: { shop: { type: 'mongodb', url: URL_, database: DB } }, ...doc }, registry, { env: {} });
      try {
        return await new FlowRun(plan, { store, cwd: dir }).run();
      } finally {
        await store.close();
      }
    };
    const nested = await run({
      name: 'nest-to-mongo',
      settings: { batchSize: 7 },
      nodes: [
        { id: 'orders', type: 'sqlite.source', config: { path: 'shop.db', table: 'orders' } },
        { id: 'lines', type: 'sqlite.source', config: { path: 'shop.db', table: 'order_lines' } },
        { id: 'nest', type: 'core.denormalize', config: { mode: 'nest', as: 'lines', parentKey: 'id', childKey: 'order_id' } },
        { id: 'docs', type: 'mongodb.sink', config: { connection: 'shop', collection: 'orders' } },
      ],
      edges: [
        { from: 'orders', to: 'nest', toPort: 'parent' },
        { from: 'lines', to: 'nest', toPort: 'child' },
        { from: 'nest', to: 'docs' },
      ],
    });
    expect(nested.error).toBeUndefined();
    expect(nested.status).toBe('completed');
    const expected = orders.map((o) => ({ _id: o.id, ...o, lines: lines.filter((l) => l.order_id === o.id) }));
    expect(await coll('orders').find().sort({ _id: 1 }).toArray()).toEqual(expected);

    const copied = await run({
      name: 'mongo-to-mongo',
      nodes: [
        { id: 'read', type: 'mongodb.source', config: { connection: 'shop', collections: ['orders'], chunkSize: 4 } },
        { id: 'write', type: 'mongodb.sink', config: { connection: 'shop', collection: 'orders_copy' } },
      ],
      edges: [{ from: 'read', to: 'write' }],
    });
    expect(copied.error).toBeUndefined();
    expect(copied.nodes.write.ops?.r).toBe(30);
    expect(await coll('orders_copy').find().sort({ _id: 1 }).toArray()).toEqual(expected);
  });

  it('enriches records from a collection (core.denormalize lookup, from: { type: mongodb })', async () => {
    const oid = new ObjectId();
    await coll('customers').insertMany([
      { _id: 1, name: 'numeric id' },
      { _id: 'c2', name: 'string id' },
      { _id: oid, name: 'object id' },
    ]);
    const lookup = await create<TransformInstance>(denormalize, {
      mode: 'lookup',
      as: 'customer',
      from: { type: 'mongodb', url: URL_, database: DB, collection: 'customers' },
      localKey: 'customer_id',
      foreignKey: '_id',
    });
    const recs: SluiceRecord[] = [1, '1', 'c2', oid.toHexString(), 'none'].map((customer_id, i) => ({ key: i, value: { id: i, customer_id }, op: 'c', meta: {} }));
    const out = await processAll(lookup, recs);
    expect(out.out.map((r) => (r.value!.customer as { name?: string } | null)?.name ?? null)).toEqual(['numeric id', 'numeric id', 'string id', 'object id', null]);
    expect((out.out[3].value!.customer as { _id: string })._id).toBe(oid.toHexString());

    const missing = await create<TransformInstance>(denormalize, {
      mode: 'lookup',
      as: 'customer',
      from: { type: 'mongodb', url: URL_, database: DB, collection: 'nope' },
      localKey: 'customer_id',
      foreignKey: '_id',
    });
    const err = await missing.open(undefined).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('from.collection');
    expect((err as Error).message).toMatch(/collection "nope" not found .*customers/);
  });

  it('testConnection says what it reached, and what is wrong when it cannot', async () => {
    const ok = await testConnection({ url: URL_ });
    expect(ok.ok).toBe(true);
    expect(ok.message).toMatch(info?.mongoJavaServer ? /mongo-java-server/ : /MongoDB \d/);
    expect(ok.changeStreams?.ready).toBe(!standalone);
    const refused = await testConnection({ url: 'mongodb://127.0.0.1:1/?directConnection=true', timeoutMs: 500 });
    expect(refused).toMatchObject({ ok: false });
    expect(refused.message).toMatch(/connection refused/);
    expect((await testConnection({ url: 'postgres://x' })).message).toMatch(/scheme must be mongodb/);
  });
});

describe.skipIf(!mongo.available)(`mongodb errors (${serverName})`, () => {
  it('a missing collection fails the snapshot at open, listing the collections there are', async () => {
    await coll('present').insertOne({ _id: 1 });
    const err = await openError(await source({ collections: ['present', 'absent'] }));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('collections[1]');
    expect(err.message).toMatch(/collection "absent" not found in database sluice_test_\S+; collections: .*present/);
    const pattern = await openError(await source({ collections: ['zzz_*'] }));
    expect(pattern.message).toMatch(/pattern "zzz_\*" matches no collection/);
  });

  it('an unreachable server, wrong credentials, a bad URL or an unknown connection fail at open with what to fix', async () => {
    const refused = await openError(await source({ url: 'mongodb://127.0.0.1:1/?directConnection=true', timeoutMs: 500, collections: ['x'] }));
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).path).toBe('url');
    expect(refused.message).toMatch(/cannot connect to mongodb:\/\/127\.0\.0\.1:1\/.* connection refused/);

    const withUser = URL_.replace(/^mongodb:\/\/([^@/]*@)?/, 'mongodb://nobody:wrong@');
    const auth = await openError(await source({ url: withUser, collections: ['x'] }));
    expect(auth).toBeInstanceOf(ConfigError);
    expect(auth.message).toMatch(/authentication failed for user "nobody"/);
    expect(auth.message).not.toMatch(/wrong/); // the password is never shown

    const scheme = await openError(await source({ url: 'mysql://127.0.0.1/x', collections: ['x'] }));
    expect(scheme.message).toMatch(/url: URL scheme must be mongodb:\/\/ or mongodb\+srv:\/\/, not mysql/);
    const named = await openError(await source({ url: undefined, connection: 'nope', collections: ['x'] }));
    expect(named.message).toMatch(/connection: the flow has no connection named "nope"/);
    const nodb = await openError(await create<SourceInstance>(mongodbSource, { url: 'mongodb://127.0.0.1:1/', collections: ['x'] }));
    expect((nodb as ConfigError).path).toBe('database');
    expect(() => mongodbSource.configSchema.parse({ collections: ['x'] })).toThrow(/set `connection`/);
  });

  it('the sink fails a batch whose record has no value for a key field, naming the record', async () => {
    const w = await sink({ collection: 'strict', keys: ['code'] });
    await w.open();
    const err = await w.write([{ key: { id: 5 }, value: { id: 5, name: 'no code' }, op: 'c', meta: {} }, { key: { id: 6 }, value: { id: 6, name: 'x', code: 'a' }, op: 'c', meta: {} }]).catch((e: Error) => e);
    await w.close();
    expect(err).toBeInstanceOf(NodeError);
    expect((err as Error).message).toMatch(/record with key \{"id":5\} \(op c\) has no value for key field "code"/);
    expect(await coll('strict').countDocuments()).toBe(0); // nothing of the batch was written
  });

  it('a position that is not one mongodb.source writes is refused', async () => {
    await coll('pos').insertOne({ _id: 1 });
    const err = await openError(await source({ collections: ['pos'] }), { offset: 3 });
    expect(err).toBeInstanceOf(NodeError);
    expect(err.message).toMatch(/is not one mongodb.source writes/);
  });

  it.skipIf(!standalone)('change streams on a standalone server fail at open: they need a replica set', async () => {
    await coll('solo').insertOne({ _id: 1 });
    const err = await openError(await source({ collections: ['solo'], mode: 'cdc' }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/change streams need a replica set: start mongod with --replSet and rs.initiate\(\)/);
  });
});

describe.skipIf(!tlsMongo.available)(`mongodb over TLS (${tlsMongo.url}, CA ${TLS_CA})`, () => {
  const tlsSource = (tls: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) =>
    create<SourceInstance>(mongodbSource, { url: tlsMongo.url, database: DB, collections: ['secure'], timeoutMs: 1000, ...(tls ? { tls } : {}), ...extra });

  it('connects with tls.ca (a PEM file or the PEM text) or rejectUnauthorized: false, and says what to fix otherwise', async () => {
    const w = await create<SinkInstance>(mongodbSink, { url: tlsMongo.url, database: DB, collection: 'secure', tls: { ca: readFileSync(TLS_CA, 'utf8') } });
    await writeAll(w, [[{ key: 1, value: { id: 1, secret: 'x' }, op: 'c', meta: {} }]]);
    expect((await readAll(await tlsSource({ ca: TLS_CA }))).records.map((r) => r.value)).toEqual([{ _id: 1, id: 1, secret: 'x' }]);
    expect((await readAll(await tlsSource({ rejectUnauthorized: false }))).records).toHaveLength(1);

    const untrusted = await openError(await tlsSource({}));
    expect(untrusted).toBeInstanceOf(ConfigError);
    expect((untrusted as ConfigError).path).toBe('tls');
    expect(untrusted.message).toMatch(/TLS to mongodb:\/\/127\.0\.0\.1:\d+\/.* failed: .*certificate.*Set tls\.ca/);
    const plain = await openError(await tlsSource(undefined));
    expect(plain.message).toMatch(/closed the connection during the handshake: if it accepts TLS only, set `tls`/);
    const noFile = await openError(await tlsSource({ ca: 'no/such/ca.pem' }));
    expect((noFile as ConfigError).path).toBe('tls.ca');
    expect(noFile.message).toMatch(/cannot read no\/such\/ca.pem: ENOENT/);

    const c = new MongoClient(tlsMongo.url, { tls: true, ca: readFileSync(TLS_CA, 'utf8') });
    await c.db(DB).dropDatabase();
    await c.close();
  });
});

describe.skipIf(!streams)(`mongodb change streams (${serverName})`, () => {
  it('snapshot+cdc: changes made while the snapshot runs are not lost, then c/u/d stream end to end and resume from the token', async () => {
    const orders = coll('cs_orders');
    await orders.insertMany([
      { _id: 1, v: 1 },
      { _id: 2, v: 2 },
    ]);
    const src = await source({ collections: ['cs_orders'], mode: 'snapshot+cdc', chunkSize: 1 });
    await src.open(undefined);
    const seen = new Map<string, unknown>();
    const announce = (await src.read())!;
    expect(announce.records).toEqual([]); // the start point, committed before anything is read
    const firstChunk = (await src.read())!;
    expect(firstChunk.records.map((r) => [r.op, r.value])).toEqual([['r', { _id: 1, v: 1 }]]);
    apply(seen, firstChunk.records);
    // while the snapshot runs: a document it already read changes, one appears behind its cursor
    await orders.updateOne({ _id: 1 }, { $set: { v: 10 } });
    await orders.insertOne({ _id: 0, v: 0 });

    const first = await readUntil(src, (rs) => rs.filter((r) => r.op !== 'r').length >= 2);
    apply(seen, first.records);
    expect(first.records.filter((r) => r.op === 'r').map((r) => (r.key as { _id: number })._id)).toEqual([2]);
    expect((first.position as { phase: string }).phase).toBe('cdc');
    // the stream started before the snapshot: what the snapshot could not see comes as changes
    expect(seen).toEqual(await contents('cs_orders'));
    expect(seen.get('0')).toEqual({ _id: 0, v: 0 });
    expect(seen.get('1')).toEqual({ _id: 1, v: 10 });

    await orders.insertOne({ _id: 4, v: 4 });
    await orders.replaceOne({ _id: 2 }, { v: 20, replaced: true });
    await orders.updateOne({ _id: 4 }, { $set: { v: 40 } });
    await orders.deleteOne({ _id: 0 });
    const changes = await readUntil(src, (rs) => rs.some((r) => r.op === 'd'));
    expect(changes.records.map((r) => [r.op, (r.key as { _id: number })._id])).toEqual([
      ['c', 4],
      ['u', 2],
      ['u', 4],
      ['d', 0],
    ]);
    expect(changes.records[0].value).toEqual({ _id: 4, v: 4 }); // an insert carries the inserted document
    expect(changes.records[2].value).toEqual({ _id: 4, v: 40 }); // an update the document looked up (updateLookup)
    expect(changes.records[1].value).toEqual({ _id: 2, v: 20, replaced: true });
    expect(changes.records[3]).toMatchObject({ value: null, meta: { table: `${DB}.cs_orders` } });
    apply(seen, changes.records);
    expect(seen).toEqual(await contents('cs_orders'));
    await src.close();

    // a restart resumes after the last position handed out: only what came after it
    await orders.insertOne({ _id: 5, v: 5 });
    const again = await source({ collections: ['cs_orders'], mode: 'snapshot+cdc' });
    await again.open(JSON.parse(JSON.stringify(changes.position)));
    const resumed = await readUntil(again, (rs) => rs.length >= 1);
    await again.close();
    expect(resumed.records.map((r) => [r.op, (r.key as { _id: number })._id])).toEqual([['c', 5]]);
  });

  it('cdc: commits its start point first, streams several collections, and ends with a clear error when a collection is dropped', async () => {
    await coll('cs_a').insertOne({ _id: 'seed' });
    await coll('cs_b').insertOne({ _id: 'seed' });
    const src = await source({ collections: ['cs_a', 'cs_b'], mode: 'cdc' });
    await src.open(undefined);
    const announce = (await src.read())!;
    expect(announce.records).toEqual([]);
    expect(Object.keys((announce.position as { streams: object }).streams).sort()).toEqual(['cs_a', 'cs_b']);
    // changes made before the first real read, after the start point was committed: read after a restart too
    await coll('cs_a').insertOne({ _id: 'a1' });
    await coll('cs_b').insertOne({ _id: 'b1' });
    await src.close();

    const again = await source({ collections: ['cs_a', 'cs_b'], mode: 'cdc' });
    await again.open(JSON.parse(JSON.stringify(announce.position)));
    const got = await readUntil(again, (rs) => rs.length >= 2);
    expect(got.records.map((r) => `${r.meta.table}:${(r.key as { _id: string })._id}`).sort()).toEqual([`${DB}.cs_a:a1`, `${DB}.cs_b:b1`]);

    await coll('cs_b').drop();
    const err = await readUntil(again, () => false).catch((e: Error) => e);
    await again.close();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/collection sluice_test_\S+\.cs_b was dropped: its change stream ends there/);
  });
});

