/**
 * `COPY ... TO STDOUT` read straight off a pg connection into one Buffer of row text.
 *
 * pg-copy-streams gives a Readable that slices every CopyData message (one per row) out of the socket's
 * reads through a buffer list: a few objects and calls per row. Here each socket read is compacted in
 * place (the 5-byte message headers squeezed out, the row bytes moved down) and kept as one slice.
 * As pg-copy-streams does, it takes over the connection's `data` listener while the COPY runs and
 * hands what follows CopyDone (or an ErrorResponse) back to pg, which then reports the end or the error.
 */
import type { EventEmitter } from 'node:events';
import type pg from 'pg';

/** the part of pg's Connection used here */
interface Connection {
  stream: EventEmitter;
  query(text: string): void;
}

type DataListener = (chunk: Buffer) => void;

const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
/** messages that may come between CopyData and are skipped: CopyOutResponse, ParameterStatus, NoticeResponse, NotificationResponse */
const SKIPPED = new Set([0x48, 0x53, 0x4e, 0x41]);

/** the rows `sql` (a `COPY ... TO STDOUT` statement, text format) sends, as the bytes of its text */
export function copyOut(client: pg.ClientBase, sql: string): Promise<Buffer> {
  const q = new CopyOut(sql);
  client.query(q as unknown as pg.Submittable);
  return q.done;
}

class CopyOut {
  readonly done: Promise<Buffer>;
  private resolve!: (b: Buffer) => void;
  private reject!: (err: unknown) => void;
  private settled = false;
  private stream?: EventEmitter;
  private pgData?: DataListener;
  /** row bytes read so far, one compacted slice per socket read */
  private readonly parts: Buffer[] = [];
  /** body bytes of the current message still to come, and whether they are row bytes (CopyData) */
  private left = 0;
  private data = false;
  /** the start of a message header cut off by the end of the last read */
  private head?: Buffer;

  constructor(private readonly text: string) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** called by pg when the query's turn comes */
  submit(connection: Connection): Error | undefined {
    const listeners = connection.stream.listeners('data') as DataListener[];
    if (listeners.length !== 1) return new Error(`COPY TO: expected one data listener on the connection, found ${listeners.length}`);
    this.stream = connection.stream;
    this.pgData = listeners[0];
    this.stream.removeListener('data', this.pgData);
    this.stream.on('data', this.onData);
    connection.query(this.text);
    return undefined;
  }

  private readonly onData = (read: Buffer): void => {
    let chunk = read;
    if (this.head) {
      chunk = Buffer.concat([this.head, read]);
      this.head = undefined;
    }
    const n = chunk.length;
    let r = 0; // read position
    let w = 0; // end of the row bytes moved to the start of the chunk
    while (r < n) {
      if (this.left > 0) {
        const take = Math.min(this.left, n - r);
        if (this.data) {
          if (w !== r) chunk.copyWithin(w, r, r + take);
          w += take;
        }
        r += take;
        this.left -= take;
        continue;
      }
      if (n - r < 5) {
        this.head = Buffer.from(chunk.subarray(r));
        break;
      }
      const code = chunk[r];
      if (code === COPY_DATA || SKIPPED.has(code)) {
        this.data = code === COPY_DATA;
        this.left = chunk.readUInt32BE(r + 1) - 4;
        r += 5;
        continue;
      }
      // CopyDone is the end (pg is given what follows it); an ErrorResponse or anything else goes to pg as is
      if (w > 0) this.parts.push(chunk.subarray(0, w));
      this.detach(chunk.subarray(code === COPY_DONE ? r + 1 + chunk.readUInt32BE(r + 1) : r));
      return;
    }
    if (w > 0) this.parts.push(chunk.subarray(0, w));
  };

  /** gives the connection back to pg, with the bytes read past the COPY's data */
  private detach(rest?: Buffer): void {
    const { stream, pgData } = this;
    if (!stream || !pgData) return;
    this.stream = this.pgData = undefined;
    stream.removeListener('data', this.onData);
    stream.on('data', pgData);
    if (rest && rest.length > 0) pgData(rest);
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts));
  }

  handleError(err: unknown): void {
    this.detach();
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }
}
