/**
 * The change stream of postgres.source: logical replication with the pgoutput plugin (through
 * `pg-logical-replication`) from a replication slot over a publication of the captured tables. Setting
 * those up, checking and dropping them is slot-admin.ts.
 *
 * Positions. The position of a change is `{ phase: 'cdc', lsn, tx? }`: `lsn` is the end LSN of the last
 * transaction delivered whole; inside a large transaction (split over several batches) `tx: { commit,
 * done }` says that the first `done` changes of the transaction committing at `commit` were delivered,
 * and a resumed run skips them. The slot is told (standby status update, `flush`) only LSNs the runtime
 * has committed, i.e. acknowledged by every sink: `committed()` after each checkpoint, and the position
 * given to open() on a restart. PostgreSQL therefore keeps every change a crash could still need.
 *
 * Guardrails. A heartbeat (every `heartbeatIntervalMs`) reports the committed LSN and asks the server for
 * a keepalive: when nothing is pending, the keepalive's WAL position becomes an empty batch's position,
 * so an idle source (or one whose tables are quiet while the rest of the server writes) lets the slot
 * advance and WAL be recycled. An optional `heartbeatTable` is also written then. The slot's lag behind
 * the server's WAL is measured at each heartbeat (`status()`, and a warning above `lagWarnMb`). A slot
 * that was dropped or invalidated is an error that says so: nothing is silently re-snapshotted.
 *
 * Lost connections (a restarted server, a terminated walsender) are reconnected from the last change
 * handed out, with backoff, for up to `reconnectTimeoutMs`; the buffered changes are delivered first.
 */
import type pg from 'pg';
import type { LogicalReplicationService, Pgoutput } from 'pg-logical-replication';
import { lazyModule } from '../shared/lazy-module.js';
import { ConfigError, NodeError, errorMessage, type Logger, type SluiceRecord, type SourceBatch, type Value } from '../../runtime/index.js';
import { sleep } from '../shared/abort.js';
import type { TableMeta } from './catalog.js';
import { clientOptions, isTransient, pgError, qualified, type SessionOptions, type Target, type TableName } from './connection.js';
import { formatLsn, normLsn, parseLsn } from './lsn.js';
import { checkSlot, slotGone } from './slot-admin.js';
import type { TypeMapper } from './types.js';
import { SCHEMA_META, type TableSchema } from '../shared/columns.js';

export interface CdcPosition {
  phase: 'cdc';
  /** end LSN of the last transaction delivered whole (`16/B374D848`) */
  lsn: string;
  /** inside a transaction: its commit LSN and how many of its changes were delivered */
  tx?: { commit: string; done: number };
}

// ---- the stream ----------------------------------------------------------------------------------

const replication = lazyModule<typeof import('pg-logical-replication')>('pg-logical-replication');

/** pgoutput with every column parsed by the source's TypeMapper (same values as the snapshot); made on first use, the driver being lazy */
const definePgoutput = () => class MappedPgoutput extends replication.PgoutputPlugin {
  parsed = 0;

  constructor(options: Pgoutput.Options, private readonly mapper: TypeMapper) {
    super(options);
  }

  override parse(buffer: Buffer): Pgoutput.Message {
    const msg = super.parse(buffer);
    this.parsed++;
    // the parser keeps this relation object and parses the following tuples with these column parsers
    if (msg.tag === 'relation') for (const c of msg.columns) c.parser = this.mapper.parser(c.typeOid);
    return msg;
  }
};
type MappedPgoutput = InstanceType<ReturnType<typeof definePgoutput>>;
let mappedPgoutput: ReturnType<typeof definePgoutput> | undefined;

export interface StreamOptions {
  nodeId: string;
  target: Target;
  session: SessionOptions;
  /** for heartbeats, lag and slot checks */
  pool: pg.Pool;
  slot: string;
  publication: string;
  tables: TableMeta[];
  /** each table's declared columns (meta.schema) as the catalog said, by table id */
  schemas: ReadonlyMap<string, TableSchema>;
  mapper: TypeMapper;
  batchSize: number;
  heartbeatIntervalMs: number;
  heartbeatTable?: TableName;
  lagWarnBytes: number;
  reconnectTimeoutMs: number;
  log: Logger;
  signal: AbortSignal;
}

export interface StreamStatus {
  slot: string;
  /** bytes of WAL between the server's current position and what the slot confirmed */
  lagBytes?: number;
  /** last LSN confirmed to the server */
  confirmedLsn: string;
  /** last position handed to the runtime */
  position: CdcPosition;
  connected: boolean;
}

interface Entry {
  record?: SluiceRecord;
  /** the record's table's declared columns when the change was made */
  schema?: TableSchema;
  position: CdcPosition;
}

/** a table's columns as a relation message gives them, and the TableSchema they are described by */
interface Described {
  columns: { name: string; typeOid: number; typeMod: number }[];
  schema: TableSchema;
}

interface OpenTx {
  commit: string;
  seen: number;
  ts: number;
}

export class ChangeStream {
  private service?: LogicalReplicationService;
  private plugin?: MappedPgoutput;
  private gen = 0;
  private processed = 0;
  private buffer: Entry[] = [];
  private head = 0;
  private buffered = 0;
  private readonly highWater: number;
  /** position of the last entry put in the buffer / handed out */
  private lastPushed: CdcPosition;
  private lastHanded: CdcPosition;
  /** end LSN of the last whole transaction */
  private lastEnd: string;
  private committedLsn: bigint;
  private serverLsn = 0n;
  private lastIdleAt = 0;
  private tx?: OpenTx;
  private skip?: { commit: string; done: number };
  private failure?: unknown;
  private waiter?: () => void;
  private roomWaiters: (() => void)[] = [];
  private timer?: NodeJS.Timeout;
  private lagBytes?: number;
  private lastLagWarn = 0;
  private readonly byName: Map<string, TableMeta>;
  /** per table id: the columns the last relation message (or the catalog) gave, described */
  private readonly described = new Map<string, Described>();
  private readonly truncateWarned = new Set<string>();
  private closed = false;

  constructor(private readonly o: StreamOptions, from: CdcPosition) {
    this.highWater = Math.max(1000, o.batchSize * 4);
    this.lastPushed = this.lastHanded = from;
    this.lastEnd = from.lsn;
    this.skip = from.tx;
    this.committedLsn = parseLsn(from.lsn);
    this.byName = new Map(o.tables.map((t) => [t.id, t]));
    for (const t of o.tables) {
      const schema = o.schemas.get(t.id);
      if (schema) this.described.set(t.id, { columns: t.columns.map(({ name, typeOid, typeMod }) => ({ name, typeOid, typeMod })), schema });
    }
  }

  /** connects and starts streaming from the position given to the constructor */
  async open(): Promise<void> {
    await this.connectWithRetry();
    this.timer = setInterval(() => void this.beat(), this.o.heartbeatIntervalMs);
    this.timer.unref();
  }

  status(): StreamStatus {
    return { slot: this.o.slot, lagBytes: this.lagBytes, confirmedLsn: formatLsn(this.committedLsn), position: this.lastHanded, connected: Boolean(this.service && !this.failure) };
  }

  async read(): Promise<SourceBatch | null> {
    for (;;) {
      if (this.o.signal.aborted || this.closed) return null;
      if (this.head < this.buffer.length) return this.take();
      if (this.failure) {
        await this.reconnect();
        continue;
      }
      const idle = this.idle();
      if (idle) return idle;
      await this.wait();
    }
  }

  /** the runtime committed `position`: confirm it to the server so the slot may advance */
  committed(position: CdcPosition): void {
    const lsn = parseLsn(position.lsn);
    if (lsn <= this.committedLsn) return;
    this.committedLsn = lsn;
    this.sendStatus(false);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.gen++;
    this.wake();
    for (const w of this.roomWaiters.splice(0)) w();
    const service = this.service;
    this.service = undefined;
    await service?.destroy().catch(() => undefined);
  }

  // ---- connection ----

  private async connect(from: CdcPosition): Promise<void> {
    const gen = ++this.gen;
    this.tx = undefined;
    this.skip = from.tx;
    this.lastEnd = from.lsn;
    this.processed = 0;
    const plugin = new (mappedPgoutput ??= definePgoutput())({ protoVersion: 1, publicationNames: [this.o.publication] }, this.o.mapper);
    const service = new replication.LogicalReplicationService(clientOptions(this.o.target, this.o.session), {
      acknowledge: { auto: false, timeoutSeconds: 0 },
      flowControl: { enabled: true },
    });
    this.service = service;
    this.plugin = plugin;
    service.on('data', (lsn: string, msg: Pgoutput.Message) => this.onMessage(gen, msg));
    service.on('heartbeat', (lsn: string, _ts: number, respond: boolean) => this.onKeepalive(gen, lsn, respond));
    service.on('error', (err: Error) => this.onFailure(gen, err));
    await new Promise<void>((resolve, reject) => {
      service.once('start', () => resolve());
      service.subscribe(plugin, this.o.slot, from.lsn).then(
        () => {
          const err = new Error('the server ended the replication stream');
          this.onFailure(gen, err);
          reject(err);
        },
        (err: unknown) => {
          this.onFailure(gen, err);
          reject(err);
        },
      );
    });
    this.sendStatus(false);
  }

  private onFailure(gen: number, err: unknown): void {
    if (gen !== this.gen || this.failure || this.closed) return;
    this.failure = err;
    const service = this.service;
    this.service = undefined;
    void service?.destroy().catch(() => undefined);
    for (const w of this.roomWaiters.splice(0)) w();
    this.wake();
  }

  /** reconnects from the last change handed out */
  private async reconnect(): Promise<void> {
    this.o.log.warn(`replication stream lost (${errorMessage(this.failure)}); reconnecting from ${this.lastPushed.lsn}`);
    await this.connectWithRetry();
    this.o.log.info(`replication stream resumed from ${this.lastPushed.lsn}`);
  }

  /**
   * Connects from the last change handed out, retrying with backoff for up to reconnectTimeoutMs while
   * the failure may pass (server restarting, the previous walsender still holding the slot). A slot that
   * is gone is a ConfigError at once.
   */
  private async connectWithRetry(): Promise<void> {
    const { nodeId, pool, slot, target, signal } = this.o;
    const deadline = Date.now() + this.o.reconnectTimeoutMs;
    let delay = 100;
    for (;;) {
      try {
        this.failure = undefined;
        const info = await checkSlot(pool, nodeId, slot, target.database, this.lastPushed.lsn);
        if (info.active) throw new Error(`replication slot ${slot} is still held by server process ${info.activePid}`);
        await this.connect(this.lastPushed);
        return;
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        this.failure = err;
        const retryable = isTransient(err) || (err as { code?: string }).code === '55006' || /still held/.test(errorMessage(err));
        if (!retryable || Date.now() + delay > deadline) {
          throw pgError(nodeId, target, err, { what: `replication slot ${slot}: cannot stream` });
        }
        if (!(await sleep(delay, signal))) return;
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => {
      const onAbort = () => resolve();
      this.o.signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = () => {
        this.o.signal.removeEventListener('abort', onAbort);
        resolve();
      };
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  // ---- messages ----

  private async onMessage(gen: number, msg: Pgoutput.Message): Promise<void> {
    if (gen !== this.gen) return;
    switch (msg.tag) {
      case 'begin':
        this.tx = { commit: normLsn(msg.commitLsn), seen: 0, ts: Number((msg.commitTime as bigint) / 1000n) };
        if (this.skip && this.skip.commit !== this.tx.commit) this.skip = undefined;
        break;
      case 'insert':
      case 'update':
      case 'delete':
      case 'truncate':
        this.change(msg);
        break;
      case 'commit':
        this.lastEnd = normLsn(msg.commitEndLsn);
        this.tx = undefined;
        this.skip = undefined;
        this.push({ position: { phase: 'cdc', lsn: this.lastEnd } });
        break;
      case 'relation': {
        const t = this.byName.get(`${msg.schema}.${msg.name}`);
        if (t && msg.replicaIdentity === 'nothing') this.o.log.warn(`table ${t.id} has REPLICA IDENTITY NOTHING: its deletes carry no key`);
        if (t) this.describe(t, msg);
        break;
      }
    }
    if (this.buffered >= this.highWater && gen === this.gen) await new Promise<void>((r) => this.roomWaiters.push(r));
    if (gen === this.gen) this.processed++;
  }

  private change(msg: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete | Pgoutput.MessageTruncate): void {
    const tx = this.tx;
    if (!tx) throw new NodeError(this.o.nodeId, `change outside a transaction from slot ${this.o.slot}`);
    tx.seen++;
    if (this.skip && tx.seen <= this.skip.done) return;
    if (msg.tag === 'truncate') {
      for (const rel of msg.relations) {
        const id = `${rel.schema}.${rel.name}`;
        if (this.byName.has(id) && !this.truncateWarned.has(id)) {
          this.truncateWarned.add(id);
          this.o.log.warn(`TRUNCATE of ${id} is not replicated: records have no truncate operation; targets keep their rows`);
        }
      }
      return;
    }
    const t = this.byName.get(`${msg.relation.schema}.${msg.relation.name}`);
    if (!t) return; // a table of the publication this node does not capture (heartbeat table ...)
    const pos = (done: number): CdcPosition => ({ phase: 'cdc', lsn: this.lastEnd, tx: { commit: tx.commit, done } });
    const meta = (position: CdcPosition) => ({ source: this.o.nodeId, table: t.id, position, ts: tx.ts });
    const schema = this.described.get(t.id)?.schema;
    if (msg.tag === 'insert') {
      const value = row(msg.new);
      const p = pos(tx.seen);
      this.push({ record: { key: keyOf(t, value), value, op: 'c', meta: meta(p) }, schema, position: p });
    } else if (msg.tag === 'update') {
      const value = row(msg.new);
      const before = msg.old ? row(msg.old) : undefined;
      const key = keyOf(t, value);
      const oldKey = msg.key ? keyOf(t, row(msg.key)) : before ? keyOf(t, before) : undefined;
      if (oldKey && !sameKey(oldKey, key)) {
        // the primary key changed: the old row is gone, a new one exists
        const p1 = pos(tx.seen - 1);
        this.push({ record: { key: oldKey, value: null, op: 'd', ...(before ? { before } : {}), meta: meta(p1) }, schema, position: p1 });
        const p2 = pos(tx.seen);
        this.push({ record: { key, value, op: 'c', meta: meta(p2) }, schema, position: p2 });
      } else {
        const p = pos(tx.seen);
        this.push({ record: { key, value, op: 'u', ...(before ? { before } : {}), meta: meta(p) }, schema, position: p });
      }
    } else {
      const before = msg.old ? row(msg.old) : undefined;
      const key = msg.key ? keyOf(t, row(msg.key)) : before ? keyOf(t, before) : {};
      const p = pos(tx.seen);
      this.push({ record: { key, value: null, op: 'd', ...(before ? { before } : {}), meta: meta(p) }, schema, position: p });
    }
  }

  /**
   * A relation message (sent before a table's first change on each connection, and again after its
   * columns changed): when its columns differ from those described so far (an ALTER TABLE), the table
   * gets a new TableSchema, used from its next change on. Columns that kept their name and type keep
   * their description (NOT NULL from the catalog); the others are described from the message's type OID
   * and typmod, as nullable (the message does not say).
   */
  private describe(t: TableMeta, msg: Pgoutput.MessageRelation): void {
    const cur = this.described.get(t.id);
    const cols = msg.columns;
    const same = (a: { name: string; typeOid: number; typeMod: number }, b: { name: string; typeOid: number; typeMod: number }) => a.name === b.name && a.typeOid === b.typeOid && a.typeMod === b.typeMod;
    if (cur && cur.columns.length === cols.length && cols.every((c, i) => same(c, cur.columns[i]))) return;
    const columns = cols.map((c) => {
      const i = cur ? cur.columns.findIndex((o) => same(c, o)) : -1;
      return i >= 0 ? cur!.schema.columns[i] : this.o.mapper.columnSpec(c.name, c.typeOid, c.typeMod, true, c.typeName ?? undefined);
    });
    this.described.set(t.id, { columns: cols.map(({ name, typeOid, typeMod }) => ({ name, typeOid, typeMod })), schema: { table: t.id, key: [...t.pk], columns } });
  }

  private push(e: Entry): void {
    this.buffer.push(e);
    if (e.record) this.buffered++;
    this.lastPushed = e.position;
    this.wake();
  }

  /**
   * The next batch from the buffer. The first record of each table in it carries the table's schema
   * (meta.schema); a change made after the table's columns changed starts a new batch, so a batch never
   * holds two schemas of one table.
   */
  private take(): SourceBatch {
    const records: SluiceRecord[] = [];
    let position = this.lastHanded;
    let i = this.head;
    const max = this.o.batchSize;
    // table id → schema set on its first record in this batch (a batch rarely holds more than a few tables)
    const schemas = new Map<string, TableSchema | undefined>();
    for (; i < this.buffer.length; i++) {
      const e = this.buffer[i];
      const r = e.record;
      if (r) {
        if (records.length >= max) break;
        const table = r.meta.table as string;
        if (!schemas.has(table)) {
          schemas.set(table, e.schema);
          if (e.schema) r.meta[SCHEMA_META] = e.schema;
        } else if (schemas.get(table) !== e.schema) {
          break;
        }
        records.push(r);
      }
      position = e.position;
    }
    this.head = i;
    this.buffered -= records.length;
    if (this.head === this.buffer.length) {
      this.buffer = [];
      this.head = 0;
    } else if (this.head > 4096) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
    this.lastHanded = position;
    if (this.buffered < this.highWater) for (const w of this.roomWaiters.splice(0)) w();
    return { records, position };
  }

  /** caught up and idle: the server's WAL position, as an empty batch's position (at most once per heartbeat) */
  private idle(): SourceBatch | undefined {
    if (this.tx || !this.plugin || this.plugin.parsed !== this.processed || this.lastHanded.tx) return undefined;
    if (this.serverLsn <= parseLsn(this.lastHanded.lsn)) return undefined;
    if (Date.now() - this.lastIdleAt < this.o.heartbeatIntervalMs) return undefined;
    this.lastIdleAt = Date.now();
    const position: CdcPosition = { phase: 'cdc', lsn: formatLsn(this.serverLsn) };
    this.lastPushed = this.lastHanded = position;
    this.lastEnd = position.lsn;
    return { records: [], position };
  }

  private onKeepalive(gen: number, lsn: string, respond: boolean): void {
    if (gen !== this.gen) return;
    const at = parseLsn(lsn);
    if (at > this.serverLsn) this.serverLsn = at;
    if (respond) this.sendStatus(false);
    this.wake();
  }

  /** standby status update: flush = the committed LSN (the library reports its argument + 1) */
  private sendStatus(ping: boolean): void {
    const service = this.service;
    if (!service || this.failure || this.committedLsn === 0n) return;
    service.acknowledge(formatLsn(this.committedLsn - 1n), ping).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    const { pool, slot, log, heartbeatTable } = this.o;
    if (this.closed) return;
    this.sendStatus(true);
    try {
      if (heartbeatTable) {
        await pool.query(`INSERT INTO ${qualified(heartbeatTable)} (slot, ts) VALUES ($1, now()) ON CONFLICT (slot) DO UPDATE SET ts = excluded.ts`, [slot]);
      }
      const r = await pool.query<{ lag: string | null; wal_status: string | null }>(
        'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag, wal_status FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      const s = r.rows[0];
      if (!s) return; // dropped: the stream fails and reconnect() says so
      if (s.wal_status === 'lost') {
        this.onFailure(this.gen, slotGone(this.o.nodeId, slot, this.lastHanded.lsn, true));
        return;
      }
      this.lagBytes = s.lag === null ? undefined : Number(s.lag);
      if (this.lagBytes !== undefined && this.lagBytes > this.o.lagWarnBytes && Date.now() - this.lastLagWarn > 60_000) {
        this.lastLagWarn = Date.now();
        log.warn(
          `replication slot ${slot} is ${(this.lagBytes / 1048576).toFixed(0)} MB behind the server's WAL, which PostgreSQL keeps until the flow catches up. ` +
            'If this flow is retired, drop the slot (SELECT pg_drop_replication_slot(...)) before the disk fills',
        );
      }
    } catch (err) {
      log.warn(`heartbeat of slot ${slot} failed: ${errorMessage(err)}`);
    }
  }
}

// ---- rows and keys ---------------------------------------------------------------------------------

/** a decoded tuple as a plain object; unchanged TOASTed values (undefined) are left out */
function row(tuple: Record<string, unknown>): Value {
  const out: Value = {};
  for (const k in tuple) if (tuple[k] !== undefined) out[k] = tuple[k];
  return out;
}

/** `{ pk columns }`, or whatever key columns the tuple holds when it lacks the primary key */
function keyOf(t: TableMeta, v: Value): Value {
  const key: Value = {};
  for (const k of t.pk) {
    if (v[k] === undefined) return v;
    key[k] = v[k];
  }
  return key;
}

function sameKey(a: Value, b: Value): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}
