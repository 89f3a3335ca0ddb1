/**
 * The server side of postgres.source's change data capture, apart from the stream itself: the checks
 * that logical replication can work (wal_level, replica identity), the publication of the captured
 * tables, and the replication slot's life (create, with or without an exported snapshot; inspect; drop).
 * Every refusal says what to change, since these are set-up mistakes a user can fix.
 */
import type pg from 'pg';
import { ConfigError, errorMessage } from '../../runtime/index.js';
import type { TableMeta } from './catalog.js';
import { clientOptions, driver, display, pgError, qualified, quoteIdent, replicationGrant, walLevelMessage, type SessionOptions, type Target, type TableName } from './connection.js';
import { normLsn } from './lsn.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

export async function checkWalLevel(q: Queryable, nodeId: string): Promise<void> {
  const level = (await q.query<{ wal_level: string }>('SHOW wal_level')).rows[0].wal_level;
  if (level !== 'logical') throw new ConfigError(nodeId, 'mode', walLevelMessage(level));
}

/** Tables without a usable replica identity cannot be published: PostgreSQL would then reject their updates. */
export function checkReplicaIdentity(nodeId: string, t: TableMeta): void {
  if (t.replicaIdentity === 'n' || (t.replicaIdentity === 'd' && t.pk.length === 0)) {
    throw new ConfigError(
      nodeId,
      'tables',
      `table ${t.id} has REPLICA IDENTITY ${t.replicaIdentity === 'n' ? 'NOTHING' : 'DEFAULT and no primary key'}: its updates and deletes cannot be captured ` +
        `(and PostgreSQL would reject them once the table is published). Add a primary key, or run ALTER TABLE ${qualified(t.name)} REPLICA IDENTITY FULL`,
    );
  }
}

/**
 * Creates the publication for `tables` when missing, or adds the tables it lacks. Must run before the
 * slot is created: pgoutput reads publications as of each change's time.
 * Returns true when the publication's tables changed.
 */
export async function ensurePublication(q: Queryable, nodeId: string, target: Target, name: string, tables: TableName[]): Promise<boolean> {
  const list = (ts: TableName[]) => ts.map(qualified).join(', ');
  try {
    const pub = await q.query<{ puballtables: boolean }>('SELECT puballtables FROM pg_publication WHERE pubname = $1', [name]);
    if (pub.rows.length === 0) {
      await q.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list(tables)}`);
      return true;
    }
    if (pub.rows[0].puballtables) return false;
    const have = new Set((await q.query<{ id: string }>("SELECT schemaname || '.' || tablename AS id FROM pg_publication_tables WHERE pubname = $1", [name])).rows.map((r) => r.id));
    const missing = tables.filter((t) => !have.has(display(t)));
    if (missing.length === 0) return false;
    await q.query(`ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${list(missing)}`);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '42501') {
      throw new ConfigError(
        nodeId,
        'publicationName',
        `user ${JSON.stringify(target.user)} may not create or change publication ${name} (${errorMessage(err)}): that needs CREATE on the database and ownership of the tables. ` +
          `Ask an owner to run CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list(tables)} and set publicationName to it`,
      );
    }
    throw pgError(nodeId, target, err, { what: `publication ${name}` });
  }
}

export interface SlotInfo {
  plugin: string;
  database: string;
  active: boolean;
  activePid: number | null;
  /** LSN up to which the slot's consumer confirmed; null before the first confirmation */
  confirmed: string | null;
  /** reserved, extended, unreserved or lost (invalidated: its WAL is gone) */
  walStatus: string | null;
}

export async function slotInfo(q: Queryable, slot: string): Promise<SlotInfo | undefined> {
  const r = await q.query<SlotInfo>(
    `SELECT plugin, database, active, active_pid AS "activePid", confirmed_flush_lsn::text AS confirmed, wal_status AS "walStatus"
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return r.rows[0];
}

export function slotGone(nodeId: string, slot: string, from: string, invalidated = false): ConfigError {
  return new ConfigError(
    nodeId,
    'slotName',
    `replication slot ${slot} ${invalidated ? 'was invalidated by the server (its WAL was removed, see max_slot_wal_keep_size)' : 'no longer exists (it was dropped)'}: ` +
      `changes after LSN ${from} cannot be read any more and nothing was resynchronised. To start over with a fresh snapshot, ` +
      `reset the flow's position (sluice run --from-start), which creates the slot again`,
  );
}

/** Checks that `slot` can serve this flow (exists, pgoutput, this database, not lost). */
export async function checkSlot(q: Queryable, nodeId: string, slot: string, database: string, from: string): Promise<SlotInfo> {
  const info = await slotInfo(q, slot);
  if (!info) throw slotGone(nodeId, slot, from);
  if (info.walStatus === 'lost') throw slotGone(nodeId, slot, from, true);
  if (info.database !== database || info.plugin !== 'pgoutput') {
    throw new ConfigError(nodeId, 'slotName', `replication slot ${slot} belongs to database ${info.database} (plugin ${info.plugin}), not to ${database} with pgoutput: choose another slotName`);
  }
  return info;
}

/**
 * Creates a logical slot on a replication connection and exports its snapshot. The snapshot can be
 * imported (SET TRANSACTION SNAPSHOT) only while the returned client is open and idle: end it once
 * every reader imported it.
 */
export async function createSlotWithSnapshot(
  target: Target,
  session: SessionOptions,
  slot: string,
): Promise<{ lsn: string; snapshot: string; client: pg.Client }> {
  const client = new driver.Client({ ...clientOptions(target, session), replication: 'database' } as pg.ClientConfig);
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput EXPORT_SNAPSHOT`);
    return { lsn: normLsn(r.rows[0].consistent_point), snapshot: r.rows[0].snapshot_name, client };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw slotError(session.nodeId, target, slot, err);
  }
}

/** Creates a logical slot (no snapshot); returns its consistent point. */
export async function createSlot(q: Queryable, nodeId: string, target: Target, slot: string): Promise<string> {
  try {
    const r = await q.query<{ lsn: string }>("SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    return normLsn(r.rows[0].lsn);
  } catch (err) {
    throw slotError(nodeId, target, slot, err);
  }
}

export async function dropSlot(q: Queryable, slot: string): Promise<void> {
  await q.query('SELECT pg_drop_replication_slot($1)', [slot]);
}

function slotError(nodeId: string, target: Target, slot: string, err: unknown): Error {
  const code = (err as { code?: string }).code;
  if (code === '42501') {
    return new ConfigError(nodeId, 'mode', `user ${JSON.stringify(target.user)} may not create replication slot ${slot}: it lacks the REPLICATION privilege. As a superuser run ${replicationGrant(target.user)}; or use mode: snapshot`);
  }
  if (code === '42710') return new ConfigError(nodeId, 'slotName', `replication slot ${slot} already exists and is in use: is another run of this flow (or another flow with this slotName) active?`);
  return pgError(nodeId, target, err, { what: `creating replication slot ${slot}` });
}

/** heartbeat table DDL */
export const heartbeatDdl = (t: TableName) => `CREATE TABLE IF NOT EXISTS ${qualified(t)} (slot text PRIMARY KEY, ts timestamptz NOT NULL)`;
