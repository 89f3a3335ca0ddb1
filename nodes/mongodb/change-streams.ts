/**
 * The change-stream half of mongodb.source: one change stream per collection (fullDocument:
 * updateLookup), read from the start points taken at open, and the start points themselves.
 *
 * Start points: the resume token the server hands a newly opened change stream (postBatchResumeToken);
 * the cluster time of the first change when one came at once; else just after the newest oplog entry
 * (servers that give neither, such as mongo-java-server).
 *
 * insert → op c, update and replace → op u (value = the document as it is when the change is read; an
 * update of a document deleted since is skipped, its delete follows), delete → op d (value null). Drop,
 * rename and invalidate end the stream: the read fails, saying so, after the changes before it.
 */
import { mongo } from './driver.js';
import type { Timestamp, ChangeStream, ChangeStreamDocument, Db, Document } from 'mongodb';
import { ConfigError, UserError, errorMessage, type SluiceRecord, type SourceBatch } from '../../runtime/index.js';
import { CHANGE_STREAMS_NEED_RS, commandError, type Target } from './connection.js';
import { decodeExact, documentValue, encodeExact, fromBson } from './types.js';

/** where a change stream starts: after a resume token, or at a cluster time (inclusive) */
export type Start = { token: unknown } | { at: { t: number; i: number } };
export type CdcPosition = { phase: 'cdc'; streams: Record<string, Start> };

const TERMINAL = new Set(['drop', 'rename', 'dropDatabase', 'invalidate']);

/** how long one wait for changes lasts on the server (getMore maxAwaitTimeMS): bounds how late a stop is seen */
const MAX_AWAIT_MS = 500;
/** an idle change stream commits its moved-on resume token this often */
const IDLE_COMMIT_MS = 10_000;

export interface ChangeStreamsOptions {
  nodeId: string;
  target: Target;
  db: Db;
  /** the server's `local` database, whose oplog gives a start point when the server hands out no token */
  local: Db;
  database: string;
  names: string[];
  /** changes per batch at most */
  chunk: number;
  signal: AbortSignal;
  preview: boolean;
}

export class ChangeStreams {
  /** stream start points as of the last batch handed out */
  starts: Record<string, Start> = {};
  /** a stream ended (drop, rename, invalidate): thrown once the changes before it are handed out */
  ended?: ConfigError;
  private readonly streams = new Map<string, ChangeStream>();
  private lastHandedAt = 0;

  constructor(private readonly o: ChangeStreamsOptions) {}

  /** a start point for each collection's change stream, taken now (see the top of this file and source.ts) */
  async startPoints(names: string[]): Promise<Record<string, Start>> {
    const out: Record<string, Start> = {};
    let oplogTime: { t: number; i: number } | undefined;
    for (const name of names) {
      const stream = this.o.db.collection(name).watch([], { maxAwaitTimeMS: 1 });
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
      const oplog = this.o.local.collection('oplog.rs');
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
        this.o.nodeId,
        'mode',
        `cannot find where the change streams start: the server gave no resume token and the oplog (local.oplog.rs) cannot be read (${errorMessage(err)}). Grant the user read on the local database`,
      );
    }
  }

  private openStreams(): void {
    for (const name of this.o.names) {
      if (this.streams.has(name)) continue;
      const start = this.starts[name];
      const options: Document = { fullDocument: 'updateLookup', maxAwaitTimeMS: MAX_AWAIT_MS, batchSize: this.o.chunk };
      if (start && 'token' in start) options.resumeAfter = decodeExact(start.token);
      else if (start) options.startAtOperationTime = new mongo.Timestamp(start.at);
      this.streams.set(name, this.o.db.collection(name).watch([], options));
    }
  }

  async read(): Promise<SourceBatch | null> {
    const { signal, preview } = this.o;
    const cur = { ...this.starts };
    const records: SluiceRecord[] = [];
    try {
      this.openStreams();
      while (!signal.aborted) {
        // what the streams already hold, without waiting
        for (const [name, stream] of this.streams) {
          while (records.length < this.o.chunk && stream.bufferedCount() > 0 && !this.ended) await this.take(name, stream, await stream.tryNext(), cur, records);
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
      await this.close(); // reopened from the last position handed out by the next read
      throw err instanceof UserError ? err : this.streamError(err, undefined);
    }
    if (this.ended && records.length === 0) {
      await this.close();
      throw this.ended;
    }
    if (signal.aborted && records.length === 0) return null;
    this.starts = cur;
    this.lastHandedAt = Date.now();
    const position: CdcPosition = { phase: 'cdc', streams: { ...this.starts } };
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
        this.o.nodeId,
        'collections',
        `collection ${this.o.database}.${name} ${change.operationType === 'rename' ? 'was renamed' : change.operationType === 'invalidate' ? 'invalidated its change stream' : 'was dropped'}: ` +
          "its change stream ends there. Fix the collection list (or recreate the collection), then reset the flow's position to read it again",
      );
      return;
    }
    if (token) cur[name] = { token: encodeExact(token) };
    if (!change) return;
    const c = change as ChangeStreamDocument & { fullDocument?: Document | null; documentKey?: Document; clusterTime?: Timestamp; wallTime?: Date };
    const meta = { source: this.o.nodeId, table: `${this.o.database}.${name}`, ts: c.wallTime ? c.wallTime.getTime() : c.clusterTime ? timeOf(c.clusterTime).t * 1000 : Date.now() };
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
    const all = await this.o.db.listCollections({}, { nameOnly: true }).toArray();
    return !all.some((c) => c.name === name);
  }

  async close(): Promise<void> {
    const streams = [...this.streams.values()];
    this.streams.clear();
    await Promise.all(streams.map((s) => s.close().catch(() => undefined)));
  }

  private streamError(err: unknown, name: string | undefined): Error {
    const { nodeId } = this.o;
    const code = Number((err as { code?: unknown }).code);
    const what = name ? `collection ${this.o.database}.${name}` : `collections of ${this.o.database}`;
    if (code === 40573 || /only supported on replica sets/i.test(errorMessage(err))) {
      return new ConfigError(nodeId, 'mode', `cannot open the change stream of ${what} at ${this.o.target.label}: ${CHANGE_STREAMS_NEED_RS}; or use mode: snapshot`);
    }
    if (code === 286 || code === 280) {
      return new ConfigError(
        nodeId,
        'mode',
        `cannot resume the change stream of ${what}: the oplog no longer holds the saved position (the flow was stopped longer than the oplog window). ` +
          "Reset the flow's position (sluice run --from-start) to read everything again",
      );
    }
    return commandError(nodeId, 'collections', this.o.target, err, `change stream of ${what}`);
  }
}

function timeOf(ts: Timestamp): { t: number; i: number } {
  return { t: ts.t, i: ts.i };
}
