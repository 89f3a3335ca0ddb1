/** The JetStream stream a nats node reads or writes: looked up, and created when missing (file storage). */
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { js } from './driver.js';
import { ConfigError, errorMessage } from '../../runtime/index.js';

const STREAM_NAME = /^[^.*>\s/\\]+$/;

/** a stream name NATS accepts (no `.`, `*`, `>`, white space or slashes) */
export function checkStreamName(nodeId: string, name: string): void {
  if (!STREAM_NAME.test(name)) throw new ConfigError(nodeId, 'stream', `${JSON.stringify(name)} is not a valid stream name: no ".", "*", ">", spaces or slashes`);
}

function isNotFound(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; code?: number | string; message?: string };
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? '');
}

/**
 * The stream's info; a missing stream is created on `subjects` (file storage) when `subjects` is given,
 * else a ConfigError that says how to make it.
 */
export async function ensureStream(jsm: JetStreamManager, nodeId: string, stream: string, subjects: string[] | undefined): Promise<{ info: StreamInfo; created: boolean }> {
  checkStreamName(nodeId, stream);
  try {
    return { info: await jsm.streams.info(stream), created: false };
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!subjects?.length) {
    throw new ConfigError(nodeId, 'stream', `stream ${stream} does not exist: create it (nats stream add ${stream}) or set subjects so the node creates it`);
  }
  try {
    return { info: await jsm.streams.add({ name: stream, subjects, storage: js.StorageType.File }), created: true };
  } catch (err) {
    // another node created it at the same moment
    if (/already in use|already exists/i.test(errorMessage(err))) return { info: await jsm.streams.info(stream), created: false };
    throw new ConfigError(nodeId, 'stream', `cannot create stream ${stream} on ${subjects.join(', ')}: ${errorMessage(err)}`);
  }
}

/** does `subject` (a filter, maybe with wildcards) fall within one of the stream's subjects? */
export function subjectCovered(subject: string, streamSubjects: string[]): boolean {
  return streamSubjects.some((s) => subjectMatches(s, subject));
}

/** does the pattern `pattern` match every subject `filter` can match (tokens, `*` one, `>` the rest)? */
function subjectMatches(pattern: string, filter: string): boolean {
  const p = pattern.split('.');
  const f = filter.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return f.length > i;
    if (i >= f.length) return false;
    if (p[i] === '*') {
      if (f[i] === '>') return false;
      continue;
    }
    if (p[i] !== f[i]) return false;
  }
  return p.length === f.length;
}
