/**
 * mongodb.source: reads MongoDB collections — a snapshot in _id order, their change streams (CDC), or a
 * snapshot and then the changes after it, losing nothing at the handoff.
 *
 * - `collections`: names in `database`, or patterns with * and ? ('orders_*'; patterns never match
 *   system.* collections or views, and are matched once, at open). Read one after the other, in the
 *   order listed (pattern matches sorted by name).
 * - `mode: snapshot`: every collection once, in chunks of `chunkSize` documents in _id order (keyset:
 *   `{ _id: { $gt: last } }` on the _id index); records op r. A restarted flow continues after the last
 *   _id committed. _ids of mixed BSON types are read in BSON order: when a type runs out, one
 *   `{ _id: { $type: [later types] } }` query finds the next. Ends after the last collection.
 * - `mode: cdc`: the changes from now on, one change stream per collection (fullDocument: updateLookup):
 *   insert → op c, update and replace → op u (value = the document as it is when the change is read;
 *   an update of a document deleted since is skipped, its delete follows), delete → op d (value null).
 *   Drop, rename and invalidate end the stream: the read fails, saying so. Needs a replica set or a
 *   sharded cluster: a standalone mongod fails at open with what to do.
 * - `mode: snapshot+cdc`: the start point of every change stream is taken at open, BEFORE the snapshot
 *   reads anything, and kept in every snapshot position; after the snapshot the streams start there. A
 *   change made while the snapshot ran is therefore read again as a change (at-least-once, and the
 *   records are whole documents, so an idempotent sink ends in the same state): nothing is lost.
 *
 * Start points: the resume token the server hands a newly opened change stream (postBatchResumeToken);
 * the cluster time of the first change when one came at once; else just after the newest oplog entry
 * (servers that give neither, such as mongo-java-server). A cdc run commits its start point before its
 * first change, so a restart never skips what happened in between.
 *
 * Records: key `{ _id }`, value the document (types.ts has the value mapping: ObjectId → hex string ...),
 * meta `{ source, table: 'db.collection', position, ts }`. Position (committed once sinks acknowledged):
 * `{ phase: 'snapshot', done, collection?, after?, streams? }` while the snapshot runs (`after`: the last
 * _id, canonical Extended JSON), `{ phase: 'cdc', streams: { <collection>: { token } | { at: { t, i } } } }`
 * after: the resume token of each stream. An idle stream whose token moves on commits it every 10 s.
 *
 * Nothing is confirmed upstream (no committed() hook): a change stream holds no server-side slot, the
 * oplog window alone decides how long a stopped flow can resume (the read then fails and says so).
 */
import { z } from 'zod';
import { Timestamp, type ChangeStream, type ChangeStreamDocument, type Collection, type Db, type Document } from 'mongodb';
import {
  ConfigError,
  NodeError,
  UserError,
  defineNode,
  errorMessage,
  type NodeContext,
  type SluiceRecord,
  type SourceBatch,
  type SourceInstance, type SourceProgress, type TableProgress,
} from '../../runtime/index.js';
import {
  CHANGE_STREAMS_NEED_RS,
  acquireClient,
  changeStreamProblem,
  commandError,
  connectionFields,
  databaseOf,
  oneConnection,
  resolveTarget,
  serverInfo,
  type ClientLease,
  type Target,
} from './connection.js';
import { decodeExact, documentValue, encodeExact, fromBson } from './types.js';

const configSchema = z
  .object({
    ...connectionFields,
    database: z.string().min(1).optional().describe('database holding the collections; default: the one named by the connection or in the URL path'),
    collections: z
      .array(z.string().min(1))
      .min(1, 'name at least one collection')
      .describe("collections to read, by name, or patterns with * and ? such as 'orders_*'"),
    mode: z
      .enum(['snapshot', 'cdc', 'snapshot+cdc'])
      .default('snapshot')
      .describe('snapshot: read the collections once, in _id order; cdc: stream inserts, updates and deletes (change streams); snapshot+cdc: the snapshot, then the changes after it'),
    chunkSize: z.number().int().min(1).max(100_000).optional().describe('documents per snapshot query and per batch; default: the flow batch size'),
  })
  .strict()
  .superRefine(oneConnection);

type Config = z.output<typeof configSchema>;

/** where a change stream starts: after a resume token, or at a cluster time (inclusive) */
type Start = { token: unknown } | { at: { t: number; i: number } };
type SnapshotPosition = { phase: 'snapshot'; done: string[]; collection?: string; after?: unknown; streams?: Record<string, Start> };
type CdcPosition = { phase: 'cdc'; streams: Record<string, Start> };
type Position = SnapshotPosition | CdcPosition;

const TERMINAL = new Set(['drop', 'rename', 'dropDatabase', 'invalidate']);

/** how long one wait for changes lasts on the server (getMore maxAwaitTimeMS): bounds how late a stop is seen */
const MAX_AWAIT_MS = 500;
/** an idle change stream commits its moved-on resume token this often */
const IDLE_COMMIT_MS = 10_000;

class MongodbSource implements SourceInstance {
  readonly kind = 'source' as const;
  private target!: Target;
  private lease?: ClientLease;
  private db?: Db;
  private database = '';
  private names: string[] = [];
  private phase: 'snapshot' | 'cdc' | 'done' = 'snapshot';
  private snap: { done: string[]; collection?: string; after?: unknown } = { done: [] };
  /** stream start points as of the last batch handed out */
  private starts: Record<string, Start> = {};
  private streams = new Map<string, ChangeStream>();
  /** a fresh cdc run hands out its start points before anything else, so they are committed */
  private announce = false;
  private lastHandedAt = 0;
  /** a stream ended (drop, rename, invalidate): thrown once the changes before it are handed out */
  private ended?: ConfigError;

  /** progress: documents (snapshot) or changes read by this run per collection, estimatedDocumentCount */
  private readonly docsRead = new Map<string, number>();
  private estimates = new Map<string, number>();

  constructor(private readonly ctx: NodeContext<Config>) {}

  /** per collection: the phase, documents read by this run (a resumed run counts from its position) and the estimate */
  progress(): SourceProgress {
    const phaseOf = (name: string): TableProgress['phase'] => {
      if (this.phase === 'cdc') return 'streaming';
      if (this.phase === 'done' || this.snap.done.includes(name)) return 'done';
      return this.snap.collection === name ? 'snapshot' : 'pending';
    };
    return {
      tables: this.names.map((name): TableProgress => {
        const id = `${this.database}.${name}`;
        const estimated = this.estimates.get(name);
        return { name: id, phase: phaseOf(name), done: this.docsRead.get(id) ?? 0, ...(estimated !== undefined ? { estimated } : {}) };
      }),
    };
  }

  private count(batch: SourceBatch | null): SourceBatch | null {
    if (batch) for (const r of batch.records) this.docsRead.set(r.meta.table as string, (this.docsRead.get(r.meta.table as string) ?? 0) + 1);
    return batch;
  }

  private get chunk(): number {
    return this.ctx.config.chunkSize ?? this.ctx.settings.batchSize;
  }

  private get cdc(): boolean {
    return this.ctx.config.mode !== 'snapshot';
  }

  async open(position: unknown): Promise<void> {
    try {
      await this.start(position);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private async start(position: unknown): Promise<void> {
    const { config, nodeId } = this.ctx;
    this.ended = undefined;
    this.target = resolveTarget(this.ctx, config);
    this.database = databaseOf(nodeId, this.target, config.database);
    this.lease = await acquireClient(nodeId, this.target);
    const db = (this.db = this.lease.client.db(this.database));
    if (this.cdc) {
      const server = await serverInfo(this.lease.client).catch((err) => {
        throw commandError(nodeId, 'mode', this.target, err, 'reading the server topology');
      });
      const problem = changeStreamProblem(server);
      if (problem) throw new ConfigError(nodeId, 'mode', `mode ${config.mode} reads change streams, but ${this.target.label} is a standalone server: ${problem}; or use mode: snapshot`);
    }
    this.names = await this.resolveCollections(db);
    if (config.mode !== 'cdc') {
      const counts = await Promise.all(this.names.map((n) => db.collection(n).estimatedDocumentCount().catch(() => undefined)));
      this.estimates = new Map(this.names.flatMap((n, i) => (counts[i] === undefined ? [] : [[n, counts[i]] as const])));
    }
    const p = this.parsePosition(position);
    // mode cdc resumed from a snapshot+cdc position skips the rest of the snapshot
    this.phase = config.mode === 'cdc' ? 'cdc' : (p?.phase ?? 'snapshot');
    if (p?.phase === 'snapshot') this.snap = { done: p.done.slice(), collection: p.collection, after: p.after };
    else this.snap = { done: [] };
    if (config.mode === 'snapshot') return;

    // change streams: their start points are taken before the snapshot reads anything
    const saved = ((p && p.streams) ?? {}) as Record<string, Start>;
    const missing = this.names.filter((n) => saved[n] === undefined);
    if (p && missing.length > 0) {
      this.ctx.log.warn(`collections ${missing.join(', ')} have no saved change stream position (added to the config since): their changes are read from now on`);
    }
    this.starts = { ...saved, ...(await this.startPoints(missing)) };
    for (const n of Object.keys(this.starts)) if (!this.names.includes(n)) delete this.starts[n];
    this.announce = !p && !this.ctx.preview;
  }

  async read(): Promise<SourceBatch | null> {
    if (!this.db) throw new NodeError(this.ctx.nodeId, 'read() before open()');
    if (this.ended) throw this.ended;
    if (this.announce) {
      this.announce = false;
      return { records: [], position: this.position() };
    }
    while (this.phase === 'snapshot' && !this.ctx.signal.aborted) {
      const batch = await this.snapshotChunk();
      if (batch) return this.count(batch);
    }
    if (this.phase === 'cdc') return this.count(await this.readChanges());
    return null;
  }

  async close(): Promise<void> {
    await this.closeStreams();
    const lease = this.lease;
    this.lease = this.db = undefined;
    await lease?.release();
  }

  // ---- collections ---------------------------------------------------------------------------------

  private async resolveCollections(db: Db): Promise<string[]> {
    const { config, nodeId } = this.ctx;
    let existing: string[];
    try {
      const infos = await db.listCollections({}, { nameOnly: true }).toArray();
      existing = infos.filter((c) => (c.type ?? 'collection') === 'collection').map((c) => c.name).sort();
    } catch (err) {
      throw commandError(nodeId, 'collections', this.target, err, `listing the collections of database ${this.database}`);
    }
    const have = () => (existing.length === 0 ? `database ${JSON.stringify(this.database)} has no collections (is it the right database?)` : `collections: ${existing.join(', ')}`);
    const names: string[] = [];
    config.collections.forEach((entry, i) => {
      if (/[*?]/.test(entry)) {
        const re = new RegExp(`^${entry.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`);
        const matched = existing.filter((n) => re.test(n) && !n.startsWith('system.'));
        // patterns are matched once, at open: one that matches nothing would read (and watch) nothing
        if (matched.length === 0) throw new ConfigError(nodeId, `collections[${i}]`, `pattern ${JSON.stringify(entry)} matches no collection in ${this.database}; ${have()}`);
        for (const n of matched) if (!names.includes(n)) names.push(n);
        return;
      }
      if (!existing.includes(entry)) {
        // a change stream may watch a collection that does not exist yet; a snapshot cannot read one
        if (config.mode !== 'cdc') throw new ConfigError(nodeId, `collections[${i}]`, `collection ${JSON.stringify(entry)} not found in database ${this.database}; ${have()}`);
        this.ctx.log.warn(`collection ${this.database}.${entry} does not exist (yet): its changes are read once it does`);
      }
      if (!names.includes(entry)) names.push(entry);
    });
    return names;
  }

  // ---- snapshot ----------------------------------------------------------------------------------

  /** the next chunk of the snapshot, or null when a collection (or the whole snapshot) just ended */
  private async snapshotChunk(): Promise<SourceBatch | null> {
    const name = this.snap.collection ?? this.names.find((n) => !this.snap.done.includes(n));
    if (name === undefined) {
      this.phase = this.cdc ? 'cdc' : 'done';
      return null;
    }
    const coll = this.db!.collection(name);
    const after = this.snap.after === undefined ? undefined : decodeExact(this.snap.after);
    let docs: Document[];
    try {
      docs = await this.page(coll, after === undefined ? {} : { _id: { $gt: after } });
      // $gt only compares _ids of one BSON type: look for the next type in BSON order
      if (docs.length === 0 && after !== undefined) {
        const later = typesAfter(after);
        if (later.length > 0) docs = await this.page(coll, { _id: { $type: later } });
      }
    } catch (err) {
      throw commandError(this.ctx.nodeId, 'collections', this.target, err, `reading collection ${this.database}.${name}`);
    }
    if (docs.length === 0) {
      this.snap = { done: [...this.snap.done, name] };
      return null;
    }
    this.snap = { done: this.snap.done, collection: name, after: encodeExact(docs[docs.length - 1]._id) };
    const position = this.position();
    const table = `${this.database}.${name}`;
    const source = this.ctx.nodeId;
    const records: SluiceRecord[] = docs.map((doc) => ({ key: { _id: fromBson(doc._id) }, value: documentValue(doc), op: 'r', meta: { source, table, position } }));
    return { records, position };
  }

  private page(coll: Collection, filter: Document): Promise<Document[]> {
    return coll.find(filter, { sort: { _id: 1 }, limit: this.chunk, batchSize: this.chunk }).toArray();
  }

  // ---- change streams ----------------------------------------------------------------------------

  /** a start point for each collection's change stream, taken now (see the top of this file) */
  private async startPoints(names: string[]): Promise<Record<string, Start>> {
    const out: Record<string, Start> = {};
    let oplogTime: { t: number; i: number } | undefined;
    for (const name of names) {
      const stream = this.db!.collection(name).watch([], { maxAwaitTimeMS: 1 });
      try {
        const first = await stream.tryNext();
        if (first && (first as { clusterTime?: Timestamp }).clusterTime) {
          out[name] = { at: timeOf((first as { clusterTime: Timestamp }).clusterTime) };
        } else if (stream.resumeToken) {
          out[name] = { token: encodeExact(stream.resumeToken) };
        } else {
          oplogTime ??= await this.afterNewestOplogEntry();
          out[name] = { at: oplogTime };
        }
      } catch (err) {
        throw this.streamError(err, name);
      } finally {
        await stream.close().catch(() => undefined);
      }
    }
    return out;
  }

  /**
   * The cluster time just after the newest oplog entry (its ts with the increment + 1: oplog times are
   * unique, so the next operation is at or after it): the start point on servers whose change streams
   * hand out no token.
   */
  private async afterNewestOplogEntry(): Promise<{ t: number; i: number }> {
    try {
      const oplog = this.lease!.client.db('local').collection('oplog.rs');
      // the last in natural order is the newest in a real (capped) oplog, not always in mongo-java-server's,
      // whose trimmed oplog reuses slots: then the newest is looked for after it (a cheap ts range on a real one)
      const last = await oplog.find({}, { projection: { ts: 1 }, sort: { $natural: -1 }, limit: 1 }).toArray();
      let ts = last[0]?.ts as Timestamp | undefined;
      if (ts) {
        const later = await oplog.find({ ts: { $gt: ts } }, { projection: { ts: 1 }, sort: { ts: -1 }, limit: 1 }).toArray();
        if (later[0]) ts = later[0].ts as Timestamp;
      }
      if (!ts) return { t: 0, i: 0 };
      return ts.i >= 0xffffffff ? { t: ts.t + 1, i: 0 } : { t: ts.t, i: ts.i + 1 };
    } catch (err) {
      throw new ConfigError(
        this.ctx.nodeId,
        'mode',
        `cannot find where the change streams start: the server gave no resume token and the oplog (local.oplog.rs) cannot be read (${errorMessage(err)}). Grant the user read on the local database`,
      );
    }
  }

  private openStreams(): void {
    for (const name of this.names) {
      if (this.streams.has(name)) continue;
      const start = this.starts[name];
      const options: Document = { fullDocument: 'updateLookup', maxAwaitTimeMS: MAX_AWAIT_MS, batchSize: this.chunk };
      if (start && 'token' in start) options.resumeAfter = decodeExact(start.token);
      else if (start) options.startAtOperationTime = new Timestamp(start.at);
      this.streams.set(name, this.db!.collection(name).watch([], options));
    }
  }

  private async readChanges(): Promise<SourceBatch | null> {
    const { signal, preview } = this.ctx;
    const cur = { ...this.starts };
    const records: SluiceRecord[] = [];
    try {
      this.openStreams();
      while (!signal.aborted) {
        // what the streams already hold, without waiting
        for (const [name, stream] of this.streams) {
          while (records.length < this.chunk && stream.bufferedCount() > 0 && !this.ended) await this.take(name, stream, await stream.tryNext(), cur, records);
        }
        if (records.length > 0 || this.ended) break;
        // wait (at most MAX_AWAIT_MS on the server) for any stream to bring something
        const entries = [...this.streams];
        const got = await Promise.all(entries.map(([, s]) => s.tryNext()));
        for (let i = 0; i < entries.length; i++) await this.take(entries[i][0], entries[i][1], got[i], cur, records);
        if (this.ended) break;
        if (records.length > 0) continue; // drain the buffers up to a full batch
        if (preview) return null;
        if (Date.now() - this.lastHandedAt >= IDLE_COMMIT_MS && JSON.stringify(cur) !== JSON.stringify(this.starts)) break;
      }
    } catch (err) {
      await this.closeStreams(); // reopened from the last position handed out by the next read
      throw err instanceof UserError ? err : this.streamError(err, undefined);
    }
    if (this.ended && records.length === 0) {
      await this.closeStreams();
      throw this.ended;
    }
    if (signal.aborted && records.length === 0) return null;
    this.starts = cur;
    this.lastHandedAt = Date.now();
    const position = this.position();
    for (const r of records) r.meta.position = position;
    return { records, position };
  }

  /** one change as a record (or none), and the stream's resume token after it */
  private async take(name: string, stream: ChangeStream, change: ChangeStreamDocument | null, cur: Record<string, Start>, records: SluiceRecord[]): Promise<void> {
    if (this.ended) return;
    const token = stream.resumeToken;
    if (change && TERMINAL.has(change.operationType) && (await this.ends(name, change))) {
      // the position stays before it: a restart meets it again instead of reading past it
      this.ended = new ConfigError(
        this.ctx.nodeId,
        'collections',
        `collection ${this.database}.${name} ${change.operationType === 'rename' ? 'was renamed' : change.operationType === 'invalidate' ? 'invalidated its change stream' : 'was dropped'}: ` +
          "its change stream ends there. Fix the collection list (or recreate the collection), then reset the flow's position to read it again",
      );
      return;
    }
    if (token) cur[name] = { token: encodeExact(token) };
    if (!change) return;
    const c = change as ChangeStreamDocument & { fullDocument?: Document | null; documentKey?: Document; clusterTime?: Timestamp; wallTime?: Date };
    const meta = { source: this.ctx.nodeId, table: `${this.database}.${name}`, ts: c.wallTime ? c.wallTime.getTime() : c.clusterTime ? timeOf(c.clusterTime).t * 1000 : Date.now() };
    switch (c.operationType) {
      case 'insert':
      case 'update':
      case 'replace': {
        // mongo-java-server puts the update spec in documentKey: the full document has the _id too
        const id = c.documentKey && '_id' in c.documentKey ? c.documentKey._id : c.fullDocument?._id;
        if (!c.fullDocument || id === undefined) return; // deleted since: its delete event follows
        records.push({ key: { _id: fromBson(id) }, value: documentValue(c.fullDocument), op: c.operationType === 'insert' ? 'c' : 'u', meta });
        return;
      }
      case 'delete':
        if (c.documentKey?._id === undefined) return;
        records.push({ key: { _id: fromBson(c.documentKey?._id) }, value: null, op: 'd', meta });
        return;
      default:
        return; // DDL events shown with showExpandedEvents only
    }
  }

  /**
   * Whether a drop / rename / invalidate event ends this collection's stream. MongoDB names the
   * collection in `ns`; mongo-java-server sends drop events without `ns` to every stream of the
   * database, so then the collection is looked up: still there, the event was another collection's.
   */
  private async ends(name: string, change: ChangeStreamDocument): Promise<boolean> {
    const ns = (change as { ns?: { coll?: string } }).ns;
    if (change.operationType !== 'drop' || ns?.coll !== undefined) return ns?.coll === undefined || ns.coll === name;
    const all = await this.db!.listCollections({}, { nameOnly: true }).toArray();
    return !all.some((c) => c.name === name);
  }

  private async closeStreams(): Promise<void> {
    const streams = [...this.streams.values()];
    this.streams.clear();
    await Promise.all(streams.map((s) => s.close().catch(() => undefined)));
  }

  private streamError(err: unknown, name: string | undefined): Error {
    const { nodeId } = this.ctx;
    const code = Number((err as { code?: unknown }).code);
    const what = name ? `collection ${this.database}.${name}` : `collections of ${this.database}`;
    if (code === 40573 || /only supported on replica sets/i.test(errorMessage(err))) {
      return new ConfigError(nodeId, 'mode', `cannot open the change stream of ${what} at ${this.target.label}: ${CHANGE_STREAMS_NEED_RS}; or use mode: snapshot`);
    }
    if (code === 286 || code === 280) {
      return new ConfigError(
        nodeId,
        'mode',
        `cannot resume the change stream of ${what}: the oplog no longer holds the saved position (the flow was stopped longer than the oplog window). ` +
          "Reset the flow's position (sluice run --from-start) to read everything again",
      );
    }
    return commandError(nodeId, 'collections', this.target, err, `change stream of ${what}`);
  }

  // ---- positions ---------------------------------------------------------------------------------

  private position(): Position {
    if (this.phase === 'snapshot') {
      const p: SnapshotPosition = { phase: 'snapshot', done: this.snap.done.slice() };
      if (this.snap.collection !== undefined) {
        p.collection = this.snap.collection;
        p.after = this.snap.after;
      }
      if (this.cdc) p.streams = { ...this.starts };
      return p;
    }
    return { phase: 'cdc', streams: { ...this.starts } };
  }

  private parsePosition(position: unknown): Position | undefined {
    if (position === undefined || position === null) return undefined;
    const p = position as { phase?: unknown; done?: unknown; collection?: unknown; streams?: unknown };
    const streamsOk = (s: unknown) => s === undefined || (typeof s === 'object' && s !== null && Object.values(s).every((v) => typeof v === 'object' && v !== null && ('token' in v || 'at' in v)));
    const ok =
      typeof p === 'object' &&
      ((p.phase === 'snapshot' && Array.isArray(p.done) && (p.collection === undefined || typeof p.collection === 'string') && streamsOk(p.streams)) ||
        (p.phase === 'cdc' && p.streams !== undefined && streamsOk(p.streams)));
    if (!ok) {
      throw new NodeError(this.ctx.nodeId, `position ${JSON.stringify(position)} is not one mongodb.source writes: reset the flow's position (sluice run --from-start)`);
    }
    const mode = this.ctx.config.mode;
    if (p.phase === 'cdc' && mode === 'snapshot') {
      throw new ConfigError(this.ctx.nodeId, 'mode', "the saved position is a change stream position but mode is snapshot now: reset the flow's position (sluice run --from-start) to snapshot again");
    }
    if (p.phase === 'snapshot' && mode !== 'snapshot' && p.streams === undefined) {
      throw new ConfigError(this.ctx.nodeId, 'mode', `the saved snapshot position has no change stream start (it was taken with mode snapshot): reset the flow's position (sluice run --from-start) to run ${mode}`);
    }
    return p as unknown as Position;
  }
}

function timeOf(ts: Timestamp): { t: number; i: number } {
  return { t: ts.t, i: ts.i };
}

// ---- BSON type order of _id values ------------------------------------------------------------------

/** BSON comparison order of the types an _id can have, with their $type aliases (symbol, deprecated, left out) */
const TYPE_ORDER: string[][] = [
  ['minKey'],
  ['null'],
  ['double', 'int', 'long', 'decimal'],
  ['string'],
  ['object'],
  ['binData'],
  ['objectId'],
  ['bool'],
  ['date'],
  ['timestamp'],
  ['regex'],
  ['maxKey'],
];

function typeRank(v: unknown): number {
  if (v === null || v === undefined) return 1;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 3;
    case 'boolean':
      return 7;
  }
  if (v instanceof Date) return 8;
  const tag = (v as { _bsontype?: string })._bsontype;
  switch (tag) {
    case 'MinKey':
      return 0;
    case 'Int32':
    case 'Double':
    case 'Long':
    case 'Decimal128':
      return 2;
    case 'BSONSymbol':
      return 3;
    case 'Binary':
      return 5;
    case 'ObjectId':
      return 6;
    case 'Timestamp':
      return 9;
    case 'BSONRegExp':
      return 10;
    case 'MaxKey':
      return 11;
    default:
      return v instanceof RegExp ? 10 : 4;
  }
}

/** the $type aliases of every BSON type that sorts after the type of `v` */
function typesAfter(v: unknown): string[] {
  return TYPE_ORDER.slice(typeRank(v) + 1).flat();
}

export const mongodbSource = defineNode({
  type: 'mongodb.source',
  category: 'source',
  title: 'MongoDB source',
  description:
    'Reads MongoDB collections: a snapshot in _id order (resumable mid-collection), change streams (insert, update, replace, delete) from a resume token, or both without a gap.',
  icon: 'database',
  configSchema,
  inputs: [],
  outputs: [{ name: 'out', description: 'one record per document or change: op r (snapshot), c, u, d (change streams); key = { _id }' }],
  create: (ctx) => new MongodbSource(ctx),
});

export default mongodbSource;
