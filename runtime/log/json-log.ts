/**
 * JSON lines for log collectors (pino): `{"level":"info","time":"…","msg":"…","flow":"…","node":"…","deployment":"…"}`.
 * Every message and string field goes through `redact` first (URL passwords, and whatever secret
 * values the host knows), so a secret never reaches a log line.
 */
import { pino } from 'pino';
import type { LogFields, Logger } from '../node-api.js';
import { redactText } from '../redact.js';

export interface JsonLogOptions {
  /** default: redactText (URL passwords) */
  redact?: (text: string) => string;
  /** fields on every line (the flow of a headless run) */
  base?: LogFields;
}

export type Writable = { write(line: string): unknown };

export function jsonLog(destination: Writable, options: JsonLogOptions = {}): Logger {
  const redact = options.redact ?? redactText;
  const logger = pino(
    { base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    destination as pino.DestinationStream,
  );
  const clean = (fields?: LogFields) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries({ ...options.base, ...fields })) {
      if (v !== undefined) out[k] = typeof v === 'string' ? redact(v) : v;
    }
    return out;
  };
  const line = (level: 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) => logger[level](clean(fields), redact(message));
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

/** stdout or stderr as a pino destination, written synchronously (a line is out before the process exits) */
export function fdDestination(fd: 1 | 2): Writable {
  return pino.destination({ fd, sync: true });
}
