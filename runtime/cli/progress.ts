/**
 * Live per-node counts while a flow runs: a table redrawn in place on a terminal, a plain line every
 * few seconds otherwise (CI, pipes). Written to stderr so stdout stays clean for --json.
 */
import type { NodeStats } from '../executor/flow-run.js';
import type { SourceProgress, TableProgress } from '../node-api.js';

export interface ProgressSource {
  name: string;
  status: string;
  stats(): Record<string, NodeStats>;
  /** sources' own progress: tables done / estimated, CDC lag */
  progress?(): Record<string, SourceProgress>;
}

/** tables shown per source on a terminal; the rest are summed up in one line */
const MAX_TABLES = 12;

const percent = (t: TableProgress) => (t.estimated ? ` (${Math.min(100, Math.floor((100 * t.done) / t.estimated))}%)` : '');

/** `3/5 tables done, 41,000 / ~100,000 rows` for the one-line display */
export function progressSummary(p: SourceProgress): string {
  const parts: string[] = [];
  if (p.tables?.length) {
    const done = p.tables.filter((t) => t.phase === 'done' || t.phase === 'streaming').length;
    const rows = p.tables.reduce((n, t) => n + t.done, 0);
    const est = p.tables.every((t) => t.estimated !== undefined) ? p.tables.reduce((n, t) => n + (t.estimated ?? 0), 0) : undefined;
    parts.push(`${done}/${p.tables.length} tables done, ${fmt(rows)}${est !== undefined ? ` / ~${fmt(est)}` : ''} rows`);
  }
  if (p.rowsPerSec !== undefined) parts.push(`${fmt(p.rowsPerSec)} rows/s`);
  if (p.lag?.bytes !== undefined) parts.push(`lag ${fmt(Math.round(p.lag.bytes / 1024))} KB`);
  if (p.lag?.ms !== undefined) parts.push(`lag ${fmt(p.lag.ms)} ms`);
  return parts.join(', ');
}

/** per-table lines under a source's row, for the terminal display */
export function tableLines(id: string, p: SourceProgress, max = MAX_TABLES): string[] {
  const tables = p.tables ?? [];
  const width = Math.max(5, ...tables.slice(0, max).map((t) => t.name.length));
  const lines = tables
    .slice(0, max)
    .map((t) => `  ${id} › ${t.name.padEnd(width)}  ${t.phase.padEnd(9)}  ${fmt(t.done).padStart(12)}${t.estimated !== undefined ? ` / ~${fmt(t.estimated)}` : ''}${percent(t)}${t.rowsPerSec !== undefined ? `  ${fmt(t.rowsPerSec)} rows/s` : ''}`);
  if (tables.length > max) {
    const rest = tables.slice(max);
    lines.push(`  ${id} › ${rest.length} more tables: ${rest.filter((t) => t.phase === 'done').length} done, ${fmt(rest.reduce((n, t) => n + t.done, 0))} rows`);
  }
  const summary = progressSummary({ lag: p.lag });
  if (summary) lines.push(`  ${id} › ${summary}`);
  return lines;
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
    const progress = this.run.progress?.() ?? {};
    const parts = this.measure().map(([id, s, rate]) => {
      const extra = progress[id] ? progressSummary(progress[id]) : '';
      return `${id} in=${s.in} out=${s.out}${s.errors ? ` err=${s.errors}` : ''} ${Math.round(rate)}/s${extra ? ` (${extra})` : ''}`;
    });
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
      ...Object.entries(this.run.progress?.() ?? {}).flatMap(([id, p]) => tableLines(id, p)),
    ];
    if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}A`);
    this.out.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
    this.drawnLines = lines.length;
  }
}
