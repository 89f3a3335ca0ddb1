/**
 * The server's log. Text lines on stdout for a person at a terminal (`2025-01-31T12:00:00.000Z INFO message`),
 * or JSON lines (pino) for a log collector, with the flow, node and deployment as fields: `--log-format`,
 * by default JSON when stdout is not a terminal.
 */
import { fdDestination, jsonLog, type LogFields, type Logger, redactText } from '../runtime/host.js';

export type ServerLog = Logger;
export type LogFormat = 'text' | 'json';

export function stdoutLog(write: (line: string) => void = (l) => process.stdout.write(l)): ServerLog {
  const line = (level: string) => (message: string) => write(`${new Date().toISOString()} ${level} ${message}\n`);
  return { info: line('INFO'), warn: line('WARN'), error: line('ERROR') };
}

/** the log `sluice serve` and `sluice agent` print: `format`, else JSON unless stdout is a terminal */
export function processLog(format?: LogFormat): ServerLog {
  const json = format ? format === 'json' : !process.stdout.isTTY;
  return json ? jsonLog(fdDestination(1)) : stdoutLog();
}

export const silentLog: ServerLog = { info() {}, warn() {}, error() {} };

/** `log` with URL passwords and the `known()` secret values masked in every line and every field */
export function redactingLog(log: ServerLog, known: () => Iterable<string>): ServerLog {
  const clean = (fields?: LogFields): LogFields | undefined => {
    if (!fields) return undefined;
    const out: LogFields = {};
    for (const [k, v] of Object.entries(fields)) out[k] = typeof v === 'string' ? redactText(v, known()) : v;
    return out;
  };
  const line = (level: keyof ServerLog) => (message: string, fields?: LogFields) => log[level](redactText(message, known()), clean(fields));
  return { info: line('info'), warn: line('warn'), error: line('error') };
}
