/** The last N log lines of each flow, kept in memory so an editor that opens a flow sees recent history. */

export type LogLevel = 'info' | 'warn' | 'error';

export interface LogLine {
  flowId: string;
  /** ISO 8601 */
  at: string;
  level: LogLevel;
  message: string;
  /** the node the line is about, when a node logged it */
  node?: string;
  /** the deployment (one start of the flow) it came from */
  deployment?: string;
}

/** A fixed-capacity ring: pushing past capacity drops the oldest line. */
export class LogRing {
  private readonly lines: LogLine[] = [];
  private start = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('log ring capacity must be a positive integer');
  }

  get size(): number {
    return this.lines.length;
  }

  push(line: LogLine): void {
    if (this.lines.length < this.capacity) this.lines.push(line);
    else {
      this.lines[this.start] = line;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** the newest `limit` lines, oldest first */
  tail(limit = this.capacity): LogLine[] {
    const ordered = [...this.lines.slice(this.start), ...this.lines.slice(0, this.start)];
    return limit >= ordered.length ? ordered : ordered.slice(ordered.length - Math.max(0, limit));
  }
}
