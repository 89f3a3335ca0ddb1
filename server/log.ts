/** The server's log: plain lines on stdout, `2025-01-31T12:00:00.000Z INFO message`. */
import { type Logger, redactText } from '../runtime/host.js';

export type ServerLog = Logger;

export function stdoutLog(write: (line: string) => void = (l) => process.stdout.write(l)): ServerLog {
  const line = (level: string) => (message: string) => write(`${new Date().toISOString()} ${level} ${message}\n`);
  return { info: line('INFO'), warn: line('WARN'), error: line('ERROR') };
}

export const silentLog: ServerLog = { info() {}, warn() {}, error() {} };

/** `log` with URL passwords and the `known()` secret values masked in every line */
export function redactingLog(log: ServerLog, known: () => Iterable<string>): ServerLog {
  const line = (level: keyof ServerLog) => (message: string) => log[level](redactText(message, known()));
  return { info: line('info'), warn: line('warn'), error: line('error') };
}
