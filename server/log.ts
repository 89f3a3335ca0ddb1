/** The server's log: plain lines on stdout, `2025-01-31T12:00:00.000Z INFO message`. */
import type { Logger } from '../runtime/index.js';

export type ServerLog = Logger;

export function stdoutLog(write: (line: string) => void = (l) => process.stdout.write(l)): ServerLog {
  const line = (level: string) => (message: string) => write(`${new Date().toISOString()} ${level} ${message}\n`);
  return { info: line('INFO'), warn: line('WARN'), error: line('ERROR') };
}

export const silentLog: ServerLog = { info() {}, warn() {}, error() {} };
