/**
 * The row binlog as a queue of changes, read with @vlasky/zongji (MySQL 8, MariaDB 10.11).
 *
 * Positions. A binlog position is `{ file, pos, skip?, gtid? }`: `file:pos` is a transaction boundary
 * (the end of the last commit, DDL or rotate before it), and `skip` counts the row changes of the
 * tables read that were already delivered from the transaction starting there. A batch that ends in the
 * middle of a big transaction (20,000 rows in one COMMIT) therefore resumes exactly: the stream restarts
 * at the transaction's start and drops the first `skip` changes. `gtid` is the GTID of the last whole
 * transaction (MariaDB domain-server-sequence, MySQL uuid:n) where the server has them: informational,
 * the stream resumes by file and offset. The row changes counted by `skip` are those of the tables
 * matched, so changing `tables` while a transaction is half delivered can misalign one transaction.
 *
 * Flow control: the handler queues events as zongji decodes them; past `highWater` queued rows the binlog
 * connection is paused (no more packets are read) until the consumer catches up.
 *
 * Failures (connection lost, server restarted, binlog purged) are kept and thrown by the next take():
 * the source restarts the stream from the position after the last change it handed out.
 */
import type ZongJi from '@vlasky/zongji';
import { lazyModule } from '../shared/lazy-module.js';
import type { ConnectionOptions } from 'mysql2';
import { ConfigError, NodeError, UserError } from '../../runtime/index.js';
import { REPLICATION_GRANT, type BinlogPoint, type ServerInfo, type Target } from './connection.js';

/** zongji (an ES module: its class is the default export), loaded when a binlog stream first starts */
const zongjiModule = lazyModule<typeof import('@vlasky/zongji')>('@vlasky/zongji');

export interface BinlogPosition extends BinlogPoint {
  /** row changes already delivered from the transaction starting at file:pos */
  skip?: number;
  /** GTID of the last whole transaction before file:pos, when the server has GTIDs */
  gtid?: string;
}

export type RowOp = 'c' | 'u' | 'd';

/** changes of one rows event, all from one table and one transaction */
export interface RowsItem {
  kind: 'rows';
  op: RowOp;
  schema: string;
  table: string;
  /** inserted / deleted rows, or { before, after } for updates (column name → value) */
  rows: unknown[];
  /** event time, ms */
  ts: number;
  /** the transaction's start */
  file: string;
  pos: number;
  gtid?: string;
  /** index of rows[0] among the transaction's matched row changes */
  first: number;
}

/** a transaction boundary: everything before `position` has been queued */
export interface MarkItem {
  kind: 'mark';
  position: BinlogPosition;
}

export type BinlogItem = RowsItem | MarkItem;

export interface BinlogStreamOptions {
  nodeId: string;
  target: Target;
  server: ServerInfo;
  /** replication client id: unique among the server's replicas */
  serverId: number;
  /** the tables read */
  match(schema: string, table: string): boolean;
  /** zongji's includeSchema, when the tables can be narrowed by name */
  includeSchema?: Record<string, string[] | true>;
  /** queued rows past which the binlog connection is paused */
  highWater: number;
  warn(message: string): void;
}

const EVENTS = ['rotate', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'xid', 'query', 'mariadbgtid', 'gtid'];
const OPS: Record<string, RowOp> = { writerows: 'c', updaterows: 'u', deleterows: 'd' };

type AnyEvent = {
  getEventName(): string;
  nextPosition: number;
  timestamp: number;
  gtid?: string;
  binlogName?: string;
  position?: number;
  standalone?: boolean;
  query?: string;
  schema?: string;
  tableId?: number;
  tableMap?: Record<number, { parentSchema: string; tableName: string }>;
  rows?: unknown[];
};

export class BinlogStream {
  private zongji?: ZongJi;
  private queue: BinlogItem[] = [];
  private queuedRows = 0;
  private paused = false;
  private failure?: Error;
  private wake?: () => void;
  // stream state, updated by the handler in binlog order
  private file = '';
  private safe: BinlogPosition = { file: '', pos: 4 };
  private inTx = false;
  private txRows = 0;
  private skipRemaining = 0;
  private lastGtid?: string;

  constructor(private readonly options: BinlogStreamOptions) {}

  get failed(): Error | undefined {
    return this.failure;
  }

  /** starts streaming at `from`; resolves once the server accepted the dump (or rejects with the reason) */
  start(from: BinlogPosition): Promise<void> {
    const { target, serverId, includeSchema } = this.options;
    this.file = from.file;
    this.safe = { file: from.file, pos: from.pos, gtid: from.gtid };
    this.lastGtid = from.gtid;
    this.skipRemaining = from.skip ?? 0;
    this.inTx = false;
    this.txRows = 0;
    const zongji = new zongjiModule.default({ ...(target.options as ConnectionOptions) });
    this.zongji = zongji;
    return new Promise<void>((resolve, reject) => {
      let started = false;
      zongji.on('error', (err: Error) => {
        const mapped = this.mapError(err);
        if (!started) {
          started = true;
          reject(mapped);
        }
        this.fail(mapped);
      });
      zongji.on('ready', () => {
        zongji.connection?.on('end', () => this.fail(new NodeError(this.options.nodeId, `binlog connection to ${target.label} ended`)));
        // the dump is only refused (purged file, privileges) once the first packet comes back: the
        // artificial rotate event every dump starts with says it was accepted
      });
      zongji.on('binlog', (event) => {
        const ev = event as unknown as AnyEvent;
        if (!started && ev.getEventName() === 'rotate') {
          started = true;
          resolve();
        }
        if (this.zongji === zongji) this.handle(ev);
      });
      zongji.start({ filename: from.file, position: from.pos, serverId, includeEvents: EVENTS, includeSchema });
    });
  }

  /**
   * Waits until something is queued (or the stream failed, or `signal` aborted), then takes items
   * holding at most `maxRows` row changes (a rows item is split when needed). Throws the stream's failure.
   */
  async take(maxRows: number, signal: AbortSignal): Promise<BinlogItem[]> {
    while (this.queue.length === 0 && !this.failure && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        this.wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      this.wake = undefined;
    }
    if (this.queue.length === 0 && this.failure) throw this.failure;
    const out: BinlogItem[] = [];
    let rows = 0;
    while (this.queue.length > 0 && rows < maxRows) {
      const item = this.queue[0];
      if (item.kind === 'mark') {
        out.push(this.queue.shift()!);
        continue;
      }
      const room = maxRows - rows;
      if (item.rows.length <= room) {
        out.push(this.queue.shift()!);
        rows += item.rows.length;
      } else {
        out.push({ ...item, rows: item.rows.slice(0, room) });
        this.queue[0] = { ...item, rows: item.rows.slice(room), first: item.first + room };
        rows += room;
      }
    }
    this.queuedRows -= rows;
    if (this.paused && this.queuedRows < this.options.highWater / 2) {
      this.paused = false;
      this.zongji?.connection?.resume();
    }
    return out;
  }

  async stop(): Promise<void> {
    const zongji = this.zongji;
    this.zongji = undefined;
    this.queue = [];
    this.queuedRows = 0;
    this.paused = false;
    if (!zongji) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      zongji.once('stopped', () => {
        clearTimeout(timer);
        resolve();
      });
      zongji.stop();
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  private push(item: BinlogItem): void {
    this.queue.push(item);
    if (item.kind === 'rows') {
      this.queuedRows += item.rows.length;
      if (!this.paused && this.queuedRows >= this.options.highWater) {
        this.paused = true;
        this.zongji?.connection?.pause();
      }
    }
    this.wake?.();
  }

  private boundary(ev: AnyEvent): void {
    const pos = ev.nextPosition > 0 ? ev.nextPosition : (this.zongji?.options.position ?? this.safe.pos);
    if (ev.gtid) this.lastGtid = ev.gtid;
    this.inTx = false;
    this.txRows = 0;
    this.skipRemaining = 0;
    this.safe = { file: this.file, pos, ...(this.lastGtid ? { gtid: this.lastGtid } : {}) };
    this.push({ kind: 'mark', position: this.safe });
  }

  private handle(ev: AnyEvent): void {
    const name = ev.getEventName();
    switch (name) {
      case 'rotate':
        if (ev.binlogName && ev.position !== undefined) {
          const moved = ev.binlogName !== this.safe.file || ev.position !== this.safe.pos;
          this.file = ev.binlogName;
          if (moved && !this.inTx) {
            this.safe = { file: this.file, pos: ev.position, ...(this.lastGtid ? { gtid: this.lastGtid } : {}) };
            this.push({ kind: 'mark', position: this.safe });
          }
        }
        return;
      case 'mariadbgtid':
        this.inTx = !ev.standalone;
        this.txRows = 0;
        return;
      case 'gtid':
        this.txRows = 0;
        return;
      case 'xid':
        this.boundary(ev);
        return;
      case 'query': {
        const q = (ev.query ?? '').trim().toUpperCase();
        if (q === 'BEGIN' || q.startsWith('XA START') || q.startsWith('XA BEGIN')) {
          this.inTx = true;
          this.txRows = 0;
        } else if (q === 'COMMIT' || q === 'ROLLBACK' || q.startsWith('XA COMMIT') || q.startsWith('XA ROLLBACK') || !this.inTx) {
          const truncated = /^TRUNCATE\s+(?:TABLE\s+)?(?:`?([^`.\s]+)`?\.)?`?([^`\s;]+)`?/i.exec((ev.query ?? '').trim());
          if (truncated && this.options.match(truncated[1] ?? ev.schema ?? '', truncated[2])) {
            this.options.warn(`TRUNCATE of ${truncated[1] ?? ev.schema}.${truncated[2]} in the binlog: MySQL logs no row deletes for it, so sinks keep the rows (use DELETE FROM to replicate emptying a table)`);
          }
          this.boundary(ev);
        }
        return;
      }
      case 'writerows':
      case 'updaterows':
      case 'deleterows': {
        const meta = ev.tableMap?.[ev.tableId ?? -1];
        if (!meta || !this.options.match(meta.parentSchema, meta.tableName)) return;
        let rows = ev.rows ?? [];
        let first = this.txRows;
        this.txRows += rows.length;
        if (this.skipRemaining > 0) {
          const k = Math.min(this.skipRemaining, rows.length);
          rows = rows.slice(k);
          first += k;
          this.skipRemaining -= k;
        }
        if (rows.length === 0) return;
        this.push({
          kind: 'rows',
          op: OPS[name],
          schema: meta.parentSchema,
          table: meta.tableName,
          rows,
          ts: ev.timestamp,
          file: this.safe.file,
          pos: this.safe.pos,
          gtid: this.safe.gtid,
          first,
        });
        return;
      }
    }
  }

  private mapError(err: Error): Error {
    if (err instanceof UserError || err instanceof NodeError) return err;
    const e = err as Error & { code?: string; errno?: number; sqlMessage?: string };
    const { nodeId, target, server } = this.options;
    const text = e.sqlMessage ?? e.message;
    if (e.errno === 1227 || e.code === 'ER_SPECIFIC_ACCESS_DENIED_ERROR' || /REPLICATION SLAVE|BINLOG MONITOR|REPLICATION CLIENT/i.test(text)) {
      return new ConfigError(nodeId, target.field, `user ${JSON.stringify(target.user)} may not read the binlog at ${target.label}: ${text}. ${REPLICATION_GRANT(server, target.user)}`);
    }
    if (e.errno === 1236 || e.code === 'ER_MASTER_FATAL_ERROR_READING_BINLOG') {
      return new UserError(
        `node ${nodeId}: the binlog at ${target.label} cannot be read from the saved position (${text}): the file was probably purged ` +
          '(binlog_expire_logs_seconds / expire_logs_days). Start the flow again from the beginning (sluice run --from-start) to take a new snapshot',
      );
    }
    if (/Insufficient permissions to access/i.test(text)) {
      return new ConfigError(nodeId, target.field, `${text}: GRANT SELECT on the table to ${JSON.stringify(target.user)} (zongji reads column names from information_schema)`);
    }
    return new NodeError(nodeId, `binlog stream from ${target.label}: ${text}`, { cause: err });
  }
}

/** a replication client id for a node: stable across runs, unlikely to collide with real replicas */
export function defaultServerId(flowName: string, nodeId: string): number {
  let h = 2166136261;
  for (const ch of `${flowName}\0${nodeId}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return 1_000_000 + (h % 1_000_000_000);
}
