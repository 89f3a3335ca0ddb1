/**
 * `npm run bench`: benchmarks (not timed tests). Each case measures a figure and, where the issue asks
 * for one, a baseline in the same run, and reports the ratio. Run one case with
 * `npm run bench -- NAME` (substring match). Results also go to test-output/bench.json.
 */
export interface Figure {
  metric: string;
  value: number;
  unit: string;
  /** what the figure is compared with, measured in the same run */
  baseline?: { label: string; value: number };
  note?: string;
}

export interface BenchCase {
  name: string;
  /** what it measures, one line */
  description: string;
  run(): Promise<Figure[]>;
}

export function ratio(f: Figure): string {
  if (!f.baseline || !f.baseline.value) return '';
  return `${((f.value / f.baseline.value) * 100).toFixed(0)}% of ${f.baseline.label} (${fmt(f.baseline.value)} ${f.unit})`;
}

export function fmt(n: number): string {
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}

/** wall time of `fn` in ms */
export async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
