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
 * The snapshot's reads are in snapshot.ts, the change streams and their start points in
 * change-streams.ts. A cdc run commits its start point before its first change, so a restart never
 * skips what happened in between.
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
import type { Db, Document } from 'mongodb';
import {
  ConfigError,
  NodeError,
  defineNode,
  type NodeContext,
  type SluiceRecord,
  type SourceBatch,
  type SourceInstance, type SourceProgress, type TableProgress,
} from '../../runtime/index.js';
import {
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
import { ChangeStreams, type CdcPosition, type Start } from './change-streams.js';
import { snapshotPage } from './snapshot.js';
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

type SnapshotPosition = { phase: 'snapshot'; done: string[]; collection?: string; after?: unknown; streams?: Record<string, Start> };
type Position = SnapshotPosition | CdcPosition;

class MongodbSource implements SourceInstance {
  readonly kind = 'source' as const;
  private target!: Target;
  private lease?: ClientLease;
  private db?: Db;
  private database = '';
  private names: string[] = [];
  private phase: 'snapshot' | 'cdc' | 'done' = 'snapshot';
  private snap: { done: string[]; collection?: string; after?: unknown } = { done: [] };
  /** the change streams (modes cdc and snapshot+cdc), made at open */
  private changes?: ChangeStreams;
  /** a fresh cdc run hands out its start points before anything else, so they are committed */
  private announce = false;

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
    const changes = (this.changes = new ChangeStreams({
      nodeId,
      target: this.target,
      db,
      local: this.lease.client.db('local'),
      database: this.database,
      names: this.names,
      chunk: this.chunk,
      signal: this.ctx.signal,
      preview: this.ctx.preview,
    }));
    changes.starts = { ...saved, ...(await changes.startPoints(missing)) };
    for (const n of Object.keys(changes.starts)) if (!this.names.includes(n)) delete changes.starts[n];
    this.announce = !p && !this.ctx.preview;
  }

  async read(): Promise<SourceBatch | null> {
    if (!this.db) throw new NodeError(this.ctx.nodeId, 'read() before open()');
    if (this.changes?.ended) throw this.changes.ended;
    if (this.announce) {
      this.announce = false;
      return { records: [], position: this.position() };
    }
    while (this.phase === 'snapshot' && !this.ctx.signal.aborted) {
      const batch = await this.snapshotChunk();
      if (batch) return this.count(batch);
    }
    if (this.phase === 'cdc') return this.count(await this.changes!.read());
    return null;
  }

  async close(): Promise<void> {
    await this.changes?.close();
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
    const after = this.snap.after === undefined ? undefined : decodeExact(this.snap.after);
    let docs: Document[];
    try {
      docs = await snapshotPage(this.db!, name, after, this.chunk);
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

  // ---- positions ---------------------------------------------------------------------------------

  private position(): Position {
    if (this.phase === 'snapshot') {
      const p: SnapshotPosition = { phase: 'snapshot', done: this.snap.done.slice() };
      if (this.snap.collection !== undefined) {
        p.collection = this.snap.collection;
        p.after = this.snap.after;
      }
      if (this.cdc) p.streams = { ...this.changes?.starts };
      return p;
    }
    return { phase: 'cdc', streams: { ...this.changes?.starts } };
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
