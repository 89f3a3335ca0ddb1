/**
 * The snapshot half of mysql.source: tables read in key order, in keyset chunks
 * (`WHERE key > last ORDER BY key LIMIT n`), inside one consistent-snapshot transaction per run.
 *
 * Handoff to the binlog (mode snapshot+cdc): the binlog position B the snapshot corresponds to is
 * recorded with it, and streaming starts at B once every table is read. On MariaDB B comes with the
 * transaction, lock-free (`START TRANSACTION WITH CONSISTENT SNAPSHOT` + the Binlog_snapshot_file /
 * _position status). On MySQL a brief `FLUSH TABLES WITH READ LOCK` holds writes while the transaction
 * starts and `SHOW MASTER STATUS` is read; without the RELOAD privilege B is read just before the
 * transaction starts instead. Either way nothing is lost: every change after B is in the binlog, and
 * replaying one the snapshot already saw is harmless to an idempotent sink (the rows end as the last
 * change left them). A snapshot resumed after a restart reads the remaining keys in a new transaction
 * and keeps the original B, for the same reason.
 */
import type { Connection as CoreConnection } from 'mysql2';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from '../../runtime/index.js';
import { binlogEnd, qualified, quoteIdent, type BinlogPoint, type ServerInfo } from './connection.js';
import { keyParam, rowReader, type Column, type TableInfo, type ZeroDates } from './types.js';

/**
 * Starts the snapshot transaction on `conn`. With `recordBinlog`, returns the binlog position to
 * stream from afterwards (see the top of this file).
 */
export async function beginSnapshot(conn: PoolConnection, server: ServerInfo, recordBinlog: boolean, log: Logger): Promise<BinlogPoint | undefined> {
  await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  const start = () => conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  if (!recordBinlog) {
    await start();
    return undefined;
  }
  if (server.mariadb) {
    await start();
    const [rows] = await conn.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'binlog_snapshot_%'");
    const status = Object.fromEntries(rows.map((r) => [String(r.Variable_name).toLowerCase(), r.Value]));
    if (status.binlog_snapshot_file) return { file: String(status.binlog_snapshot_file), pos: Number(status.binlog_snapshot_position) };
    // no binlog snapshot status (should not happen with log_bin on): the position before reading is safe
    return binlogEnd(conn, server);
  }
  let locked = false;
  try {
    await conn.query('FLUSH TABLES WITH READ LOCK');
    locked = true;
  } catch (err) {
    log.info(`no FLUSH TABLES WITH READ LOCK (${(err as Error).message}): the binlog position is read just before the snapshot starts`);
  }
  try {
    if (locked) {
      await start();
      return await binlogEnd(conn, server);
    }
    const point = await binlogEnd(conn, server);
    await start();
    return point;
  } finally {
    if (locked) await conn.query('UNLOCK TABLES');
  }
}

/**
 * Reads one table in key order, a chunk at a time. A table without a primary key (`keyless`) is read by
 * one streamed query in the table's scan order (InnoDB: its hidden clustered row id, stable within the
 * snapshot transaction), a chunk taken from the stream at a time: O(n) in all, where LIMIT/OFFSET chunks
 * rescanned the skipped rows for every chunk (O(n²)). Its resume point is the number of rows read; a
 * resumed run streams `LIMIT m, ∞` (the server skips m rows without sending them). Resumed in a new
 * transaction, that count is exact when the table did not change in between; else rows may be re-read
 * or missed. `table.key` then holds the columns given in `keys` (the record key; maybe none), not an order.
 */
export class TableChunks {
  /** `schema.table` */
  readonly id: string;
  private readonly firstSql: string;
  private readonly nextSql: string;
  private readonly keyColumns: (Column | undefined)[];
  private readonly read: ReturnType<typeof rowReader>;
  /** keyless: the open stream of the table's rows, on the snapshot connection it was opened on */
  private stream?: { conn: PoolConnection; rows: AsyncIterator<unknown[]>; from: number };

  constructor(
    readonly table: TableInfo,
    readonly keyless = false,
    zeroDates: ZeroDates = 'error',
  ) {
    this.id = `${table.schema}.${table.name}`;
    const cols = table.columns.map((c) => quoteIdent(c.name)).join(', ');
    const from = qualified(table.schema, table.name);
    if (keyless) {
      this.firstSql = this.nextSql = `SELECT ${cols} FROM ${from} LIMIT ?, 18446744073709551615`;
      this.keyColumns = [];
      this.read = rowReader(table.columns, this.id, { zeroDates, key: table.key });
      return;
    }
    const key = table.key.map(quoteIdent);
    const order = `ORDER BY ${key.join(', ')} LIMIT ?`;
    this.firstSql = `SELECT ${cols} FROM ${from} ${order}`;
    this.nextSql = `SELECT ${cols} FROM ${from} WHERE ${keysetCondition(key)} ${order}`;
    this.keyColumns = table.key.map((k) => table.columns.find((c) => c.name.toLowerCase() === k.toLowerCase()));
    this.read = rowReader(table.columns, this.id, { zeroDates, key: table.key });
  }

  /** the next `limit` rows after the key `after` (record values, in key column order), as record values */
  async next(conn: PoolConnection, after: unknown[] | undefined, limit: number): Promise<Record<string, unknown>[]> {
    if (this.keyless) return this.streamed(conn, Number(after?.[0] ?? 0), limit);
    let params: unknown[];
    if (after === undefined) params = [limit];
    else {
      const bound = after.map((v, i) => keyParam(this.keyColumns[i], v));
      params = [...keysetParams(bound), limit];
    }
    const [rows] = await conn.query<RowDataPacket[][]>({ sql: after === undefined ? this.firstSql : this.nextSql, rowsAsArray: true }, params);
    return (rows as unknown as unknown[][]).map((r) => this.read.fromArray(r));
  }

  /**
   * keyless: the next `limit` rows of the table's stream, opened at row `from` (the rows read so far) on
   * the first call, and again when the connection changed (a retry after a lost connection) or the
   * caller's position is not where the stream stands
   */
  private async streamed(conn: PoolConnection, from: number, limit: number): Promise<Record<string, unknown>[]> {
    if (this.stream && (this.stream.conn !== conn || this.stream.from !== from)) this.close();
    if (!this.stream) {
      const query = (conn.connection as unknown as CoreConnection).query({ sql: this.firstSql, rowsAsArray: true, values: [from] });
      const readable = query.stream({ highWaterMark: Math.max(limit, 1000) });
      this.stream = { conn, rows: readable[Symbol.asyncIterator]() as AsyncIterator<unknown[]>, from };
    }
    const s = this.stream;
    const out: Record<string, unknown>[] = [];
    try {
      while (out.length < limit) {
        const r = await s.rows.next();
        if (r.done) break;
        out.push(this.read.fromArray(r.value));
      }
    } catch (err) {
      this.stream = undefined;
      throw err;
    }
    s.from += out.length;
    if (out.length < limit) this.stream = undefined; // the stream ended
    return out;
  }

  /** forgets an open keyless stream (its connection is destroyed or done with by the caller) */
  close(): void {
    const s = this.stream;
    this.stream = undefined;
    void s?.rows.return?.().catch(() => undefined);
  }

  /**
   * The key of a row, as a record key `{ column: value }`, and the position after it: its key values, or
   * for a keyless table the rows read so far (`after`: the chunk's starting position, `i`: the row's index in it)
   */
  keyOf(value: Record<string, unknown>, after: unknown[] | undefined, i: number): { key: Record<string, unknown>; values: unknown[] } {
    const key: Record<string, unknown> = {};
    const values: unknown[] = [];
    for (const k of this.table.key) {
      key[k] = value[k];
      values.push(value[k]);
    }
    return { key, values: this.keyless ? [Number(after?.[0] ?? 0) + i + 1] : values };
  }
}

/**
 * `(k1, k2) > (?, ?)` written so both MySQL and MariaDB use the key's index for the range:
 * `k1 >= ? AND (k1 > ? OR (k1 = ? AND k2 > ?))`.
 */
export function keysetCondition(key: string[]): string {
  if (key.length === 1) return `${key[0]} > ?`;
  const ors: string[] = [];
  for (let i = 0; i < key.length; i++) {
    const eqs = key.slice(0, i).map((k) => `${k} = ?`);
    ors.push(`(${[...eqs, `${key[i]} > ?`].join(' AND ')})`);
  }
  return `${key[0]} >= ? AND (${ors.join(' OR ')})`;
}

/** the parameters of keysetCondition for the key values `v` */
export function keysetParams(v: unknown[]): unknown[] {
  if (v.length === 1) return v;
  const out: unknown[] = [v[0]];
  for (let i = 0; i < v.length; i++) out.push(...v.slice(0, i + 1));
  return out;
}
