/**
 * CPU time by process, for benchmarks that ask where a flow's CPU goes on a machine whose cores are all
 * busy: the bench process itself (the flow's host), its sandbox workers, and the PostgreSQL server's
 * backends. Read from /proc (Linux, a PostgreSQL on this machine); elsewhere a reading is undefined and the
 * figure is left out, never guessed.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { sandboxWorkerPids } from '../../runtime/sandbox/sandbox.js';

/** clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux's x86 and arm builds) */
const TICKS = 100;

/** fields of /proc/<pid>/stat after the command name: [utime, stime, cutime, cstime] in ms, or undefined */
function stat(pid: number): [number, number, number, number] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ms = (i: number) => (Number(f[i]) * 1000) / TICKS;
    return [ms(11), ms(12), ms(13), ms(14)];
  } catch {
    return undefined;
  }
}

/** the CPU ms the sandbox workers used: sampled while they run, as a worker's ticks are gone once it exits */
export class WorkerCpu {
  private readonly last = new Map<number, number>();
  private readonly base = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.sample();
    for (const [pid, ms] of this.last) this.base.set(pid, ms);
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
  }

  private sample(): void {
    for (const pid of sandboxWorkerPids()) {
      const s = stat(pid);
      if (s) this.last.set(pid, s[0] + s[1]);
    }
  }

  /** ms since construction, summed over the workers seen */
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    let ms = 0;
    for (const [pid, now] of this.last) ms += now - (this.base.get(pid) ?? 0);
    return ms;
  }
}

/**
 * The CPU of the PostgreSQL server's backends that end between two readings: the postmaster's reaped
 * children (cutime + cstime). A flow's connections end with it, so this is what its queries cost the
 * server; the bench's own connection and the server's background processes are not counted. Undefined
 * when the server is not a process of this machine.
 */
export async function postgresServerCpu(db: pg.Client): Promise<(() => number) | undefined> {
  const backend = Number((await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  let postmaster: number | undefined;
  try {
    postmaster = Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${backend}/status`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
  const read = () => {
    const s = postmaster ? stat(postmaster) : undefined;
    return s ? s[2] + s[3] : undefined;
  };
  const start = read();
  if (start === undefined) return undefined;
  return () => (read() ?? start) - start;
}

/** CPU µs per row of each part and in all, for a figure's note */
export function perRow(parts: Record<string, number | undefined>, rows: number): { text: string; total: number } {
  let total = 0;
  const shown: string[] = [];
  for (const [label, ms] of Object.entries(parts)) {
    if (ms === undefined) continue;
    const us = (ms * 1000) / rows;
    total += us;
    shown.push(`${label} ${us.toFixed(1)}`);
  }
  return { text: `${shown.join(' + ')} = ${total.toFixed(1)} µs CPU per row`, total };
}
