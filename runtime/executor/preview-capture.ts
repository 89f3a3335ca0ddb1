/**
 * What a run shows of the records it moves: every batch to the live tap (socket.io previews), and in
 * preview mode a bounded sample per node of what came in, went out, failed and would have been written.
 */
import type { SluiceRecord } from '../records.js';
import { EMPTY_OPS, type NodePreview, type Runner } from './runner.js';

export type Tap = (event: { node: string; direction: 'in' | 'out'; port: string; records: SluiceRecord[] }) => void;

export class PreviewCapture {
  private readonly max: number;
  /** per sink: the first record of each source table that reached it (a sink's previewReport plans from them) */
  private readonly firsts = new Map<Runner, Map<unknown, SluiceRecord>>();

  constructor(private readonly tap: Tap | undefined, sample: number | undefined) {
    this.max = sample ?? 100;
  }

  capture(r: Runner, direction: 'in' | 'out', port: string, records: SluiceRecord[]): void {
    if (records.length === 0) return;
    this.tap?.({ node: r.node.id, direction, port, records });
    if (!r.preview) return;
    const list = direction === 'in' ? r.preview.input : (r.preview.output[port] ??= []);
    if (list.length < this.max) list.push(...records.slice(0, this.max - list.length));
  }

  errors(r: Runner, records: SluiceRecord[]): void {
    if (r.preview) r.preview.errors.push(...records.slice(0, Math.max(0, this.max - r.preview.errors.length)));
  }

  /** a sink in preview: counts by op and samples what it would have written */
  wouldWrite(r: Runner, records: SluiceRecord[]): void {
    let firsts = this.firsts.get(r);
    if (!firsts) this.firsts.set(r, (firsts = new Map()));
    for (const rec of records) if (!firsts.has(rec.meta.table)) firsts.set(rec.meta.table, rec);
    const would = (r.preview!.wouldWrite ??= { ops: EMPTY_OPS(), sample: [] });
    for (const rec of records) would.ops[rec.op]++;
    const room = this.max - would.sample.length;
    if (room > 0) would.sample.push(...records.slice(0, room));
  }

  /** the first record of each source table that reached sink `r` in this test run */
  firstOfEachTable(r: Runner): SluiceRecord[] {
    return [...(this.firsts.get(r)?.values() ?? [])];
  }

  static result(runners: Map<string, Runner>): Record<string, NodePreview> {
    const out: Record<string, NodePreview> = {};
    for (const [id, r] of runners) out[id] = r.preview!;
    return out;
  }
}
