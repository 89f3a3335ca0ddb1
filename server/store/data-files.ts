/**
 * The data directory's files are the server's alone: the directory is made 0700 when we make it, and
 * every file in it (stores, their WAL and shared-memory files, the key) is 0600, existing ones included.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CONTROL_DB = 'sluice.db';
export const STATE_DB = 'sluice-state.db';
const KEY_FILES = ['secret.key', 'secret.key.new'];
/** the pid of the server using the directory, while it runs (so `sluice secrets rotate-key` can refuse) */
export const PID_FILE = 'sluice.pid';

/** every file of the data directory that must be private */
export function dataFiles(dir: string): string[] {
  const dbs = [CONTROL_DB, STATE_DB].flatMap((f) => [f, `${f}-wal`, `${f}-shm`, `${f}-journal`]);
  return [...dbs, ...KEY_FILES, PID_FILE].map((f) => join(dir, f));
}

/** makes the directory (0700) if needed, creates the database files empty and 0600 (SQLite gives its -wal and -shm the database's mode), and chmods existing ones to 0600 */
export function prepareDataDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const db of [CONTROL_DB, STATE_DB]) closeSync(openSync(join(dir, db), 'a', 0o600));
  restrictDataFiles(dir);
}

/** chmod 0600 on each data file that exists (after opening the stores too: they may have made -wal/-shm) */
export function restrictDataFiles(dir: string): void {
  for (const f of dataFiles(dir)) if (existsSync(f)) chmodSync(f, 0o600);
}

/** records this process as the server of `dir`; returns the function that removes the record */
export function claimDataDir(dir: string): () => void {
  const file = join(dir, PID_FILE);
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  return () => rmSync(file, { force: true });
}

/** the pid of a live server using `dir`, if one is recorded and still running */
export function runningServer(dir: string): number | undefined {
  const file = join(dir, PID_FILE);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
