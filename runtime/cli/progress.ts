/**
 * Live per-node counts while a flow runs: a table redrawn in place on a terminal, a plain line every
 * few seconds otherwise (CI, pipes). Written to stderr so stdout stays clean for --json.
 */
import type { NodeStats } from '../executor/flow-run.js';

export interface ProgressSource {
  name: string;
  status: string;
  stats(): Record<string, NodeStats>;
}

const fmt = (n: number) => n.toLocaleString('en-US');

export class Progress {
  private timer?: NodeJS.Timeout;
  private last = new Map<string, { at: number; count: number }>();
  private rates = new Map<string, number>();
  private drawnLines = 0;
  private readonly startedAt = Date.now();

  constructor(
    private readonly run: ProgressSource,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly tty = Boolean(process.stderr.isTTY) && !process.env.CI,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tty ? 250 : 5000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.tty) this.draw();
  }

  private tick(): void {
    if (this.tty) this.draw();
    else this.line();
  }

  private measure(): [string, NodeStats, number][] {
    const now = Date.now();
    return Object.entries(this.run.stats()).map(([id, s]) => {
      const count = Math.max(s.in, s.out);
      const prev = this.last.get(id);
      if (prev && now - prev.at >= 200) {
        this.rates.set(id, ((count - prev.count) * 1000) / (now - prev.at));
        this.last.set(id, { at: now, count });
      } else if (!prev) this.last.set(id, { at: now, count });
      return [id, s, this.rates.get(id) ?? 0];
    });
  }

  private line(): void {
    const secs = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    const parts = this.measure().map(([id, s, rate]) => `${id} in=${s.in} out=${s.out}${s.errors ? ` err=${s.errors}` : ''} ${Math.round(rate)}/s`);
    this.out.write(`[${secs}s] ${this.run.name} ${this.run.status}: ${parts.join(' | ')}\n`);
  }

  private draw(): void {
    const rows = this.measure();
    const width = Math.max(4, ...rows.map(([id]) => id.length));
    const secs = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    const lines = [
      `${this.run.name}  ${this.run.status}  ${secs}s`,
      `${'node'.padEnd(width)}  ${'in'.padStart(12)}  ${'out'.padStart(12)}  ${'errors'.padStart(8)}  ${'rec/s'.padStart(10)}`,
      ...rows.map(([id, s, rate]) =>
        `${id.padEnd(width)}  ${fmt(s.in).padStart(12)}  ${fmt(s.out).padStart(12)}  ${fmt(s.errors).padStart(8)}  ${fmt(Math.round(rate)).padStart(10)}`,
      ),
    ];
    if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}A`);
    this.out.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
    this.drawnLines = lines.length;
  }
}
