/**
 * core.denormalize (nest) through the real CLI: two JSON Lines change streams (orders and order_lines,
 * with inserts, updates, deletes, children before their parent, children moving between parents) into
 * the parent and child ports, into sqlite.sink. One run goes through uninterrupted; another is killed
 * with SIGKILL after it committed a checkpoint mid-way, then restarted to completion. Both sinks must
 * hold the same rows, and those rows must be what a SQL JOIN computes over the final tables.
 *
 * Runs `node bin/sluice.js`, which loads dist/: build first (`npm test` does, in its pretest).
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from '../helpers/node-harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/sluice.js');

/** small deterministic PRNG (mulberry32) */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Row = Record<string, unknown>;

/**
 * A history of changes to two tables, written as two envelope JSON Lines files (what a CDC source would
 * give); the same changes applied to SQLite give the expected documents with a JOIN.
 */
function writeChangeStreams(dir: string, events: number): { orders: string; lines: string; expected: Row[] } {
  const random = prng(42);
  const int = (n: number) => Math.floor(random() * n);
  const truth = new Database(':memory:');
  truth.exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL, status TEXT);
    CREATE TABLE order_lines (id INTEGER PRIMARY KEY, order_id INTEGER, sku TEXT, qty INTEGER)`);
  const statements = new Map<string, Database.Statement<unknown[]>>();
  const sql = (text: string) => {
    let stmt = statements.get(text);
    if (!stmt) statements.set(text, (stmt = truth.prepare<unknown[]>(text)));
    return stmt;
  };
  const get = (table: string, id: number) => sql(`SELECT * FROM ${table} WHERE id = ?`).get(id) as Row | undefined;
  const upsert = (table: string, row: Row) => {
    const cols = Object.keys(row);
    sql(`INSERT OR REPLACE INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...Object.values(row));
  };
  const remove = (table: string, id: number) => sql(`DELETE FROM ${table} WHERE id = ?`).run(id);
  const out = { orders: [] as string[], order_lines: [] as string[] };
  const emit = (table: 'orders' | 'order_lines', op: string, id: number, value: Row | null, before?: Row) =>
    out[table].push(JSON.stringify({ op, key: { id }, value, ...(before ? { before } : {}) }));
  let orders = 0;
  let lines = 0;
  for (let e = 0; e < events; e++) {
    const roll = random();
    if (roll < 0.22 || orders === 0) {
      const row = { id: ++orders, customer_id: 1 + int(500), amount: int(50_000) / 100, status: 'new' };
      upsert('orders', row);
      emit('orders', 'c', row.id, row);
    } else if (roll < 0.32) {
      const id = 1 + int(orders);
      const before = get('orders', id);
      const row = { id, customer_id: before?.customer_id ?? 1, amount: int(50_000) / 100, status: ['paid', 'shipped', 'delivered'][int(3)] };
      upsert('orders', row);
      emit('orders', before ? 'u' : 'c', id, row, before);
    } else if (roll < 0.35) {
      const id = 1 + int(orders);
      const before = get('orders', id);
      if (!before) continue;
      remove('orders', id);
      emit('orders', 'd', id, null, random() < 0.5 ? before : undefined);
    } else if (roll < 0.8) {
      // a line, sometimes for an order that does not exist yet
      const row = { id: ++lines, order_id: 1 + int(orders + 20), sku: `SKU-${int(300)}`, qty: 1 + int(5) };
      upsert('order_lines', row);
      emit('order_lines', 'c', row.id, row);
    } else if (roll < 0.93 && lines > 0) {
      const id = 1 + int(lines);
      const before = get('order_lines', id);
      if (!before) continue;
      const row = { ...before, qty: 1 + int(9), ...(random() < 0.3 ? { order_id: 1 + int(orders + 5) } : {}) };
      upsert('order_lines', row);
      emit('order_lines', 'u', id, row, before);
    } else if (lines > 0) {
      const id = 1 + int(lines);
      const before = get('order_lines', id);
      if (!before) continue;
      remove('order_lines', id);
      emit('order_lines', 'd', id, null, random() < 0.5 ? before : undefined);
    }
  }
  const expected = truth
    .prepare(
      `SELECT o.id, o.customer_id, o.amount, o.status,
         json_group_array(json_object('id', l.id, 'order_id', l.order_id, 'sku', l.sku, 'qty', l.qty) ORDER BY l.id) FILTER (WHERE l.id IS NOT NULL) AS lines
       FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id GROUP BY o.id ORDER BY o.id`,
    )
    .all() as Row[];
  truth.close();
  const ordersPath = join(dir, 'orders.jsonl');
  const linesPath = join(dir, 'order_lines.jsonl');
  writeFileSync(ordersPath, `${out.orders.join('\n')}\n`);
  writeFileSync(linesPath, `${out.order_lines.join('\n')}\n`);
  return { orders: ordersPath, lines: linesPath, expected: expected.map((r) => ({ ...r, lines: JSON.parse(r.lines as string) })) };
}

function writeFlow(dir: string, orders: string, lines: string): string {
  const path = join(dir, 'flow.yaml');
  writeFileSync(
    path,
    `apiVersion: sluice/v1
name: nest-resume
settings: { batchSize: 50 }
nodes:
  - { id: orders, type: file.source, config: { path: ${JSON.stringify(orders)}, envelope: true } }
  - { id: lines, type: file.source, config: { path: ${JSON.stringify(lines)}, envelope: true } }
  - { id: nest, type: core.denormalize, config: { mode: nest, as: lines, parentKey: id, childKey: order_id } }
  - { id: db, type: sqlite.sink, config: { path: out.db, table: orders, keys: [id] } }
edges:
  - { from: orders, to: nest, toPort: parent }
  - { from: lines, to: nest, toPort: child }
  - { from: nest, to: db }
`,
  );
  return path;
}

function start(dir: string): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, 'run', 'flow.yaml', '--state', join(dir, 'state.db'), '--quiet'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) =>
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** the committed checkpoint of the flow, or undefined while there is none */
function checkpoint(stateDb: string): { positions: Record<string, { offset: number }>; state: Record<string, unknown> } | undefined {
  if (!existsSync(stateDb)) return undefined;
  const db = new Database(stateDb, { readonly: true, timeout: 1000 });
  try {
    const row = db.prepare("SELECT positions, state FROM checkpoints WHERE flow = 'nest-resume'").get() as { positions: string; state: string } | undefined;
    return row ? { positions: JSON.parse(row.positions), state: JSON.parse(row.state) } : undefined;
  } catch {
    return undefined; // the table is being created
  } finally {
    db.close();
  }
}

/** resolves with the first checkpoint that `ok` accepts, polling the state file, or rejects when the run ends first */
async function checkpointWhere(
  stateDb: string,
  run: { done: Promise<unknown> },
  ok: (c: NonNullable<ReturnType<typeof checkpoint>>) => boolean,
): Promise<NonNullable<ReturnType<typeof checkpoint>>> {
  let ended = false;
  void run.done.then(() => (ended = true));
  for (;;) {
    const c = checkpoint(stateDb);
    if (c && ok(c)) return c;
    if (ended) throw new Error('the run ended before a mid-way checkpoint: make the input larger');
    await new Promise<void>((r) => setTimeout(r, 10)); // polling a file another process writes: no event to await
  }
}

function sinkRows(dir: string): Row[] {
  const db = new Database(join(dir, 'out.db'), { readonly: true });
  try {
    return (db.prepare('SELECT * FROM orders ORDER BY id').all() as Row[]).map((r) => ({ ...r, lines: JSON.parse(r.lines as string) }));
  } finally {
    db.close();
  }
}

describe('core.denormalize nest: kill and resume through the CLI', () => {
  // two CLI runs, a SIGKILL and a resume, each a process that starts sluice: over 60 s when the whole suite loads 2 cores
  it('after SIGKILL mid-run and a restart, the sink holds what an uninterrupted run gives, which is the SQL JOIN', async () => {
    if (!existsSync(join(ROOT, 'dist/nodes/core/denormalize.js'))) throw new Error('dist/ is not built: run `npx tsc -p .` (npm test does it in pretest)');
    const data = tempDir('sluice-nest-resume-');
    const whole = tempDir('sluice-nest-whole-');
    const broken = tempDir('sluice-nest-killed-');
    onTestFinished(() => {
      for (const d of [data, whole, broken]) rmSync(d, { recursive: true, force: true });
    });
    const { orders, lines, expected } = writeChangeStreams(data, 200_000);
    const sizes = { orders: statSync(orders).size, lines: statSync(lines).size };

    writeFlow(whole, orders, lines);
    const full = await start(whole).done;
    expect(full.stderr).toBe('');
    expect(full.code).toBe(0);

    writeFlow(broken, orders, lines);
    const first = start(broken);
    // a checkpoint that holds nest state and positions part-way through both files
    const mid = await checkpointWhere(join(broken, 'state.db'), first, (c) => c.positions.orders?.offset > 0 && c.positions.lines?.offset > 0 && c.positions.lines.offset < sizes.lines * 0.8);
    expect(mid.state.nest).toMatchObject({ version: 1, parentKey: 'id' });
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const atKill = checkpoint(join(broken, 'state.db'))!;
    expect(atKill.positions.lines.offset < sizes.lines || atKill.positions.orders.offset < sizes.orders).toBe(true);

    const second = await start(broken).done;
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^resumed from\b.*"lines":\{"offset":\d+/m);

    const a = sinkRows(whole);
    const b = sinkRows(broken);
    expect(a.length).toBe(expected.length);
    expect(b).toEqual(a);
    expect(a).toEqual(expected);
  }, 180_000);
});
