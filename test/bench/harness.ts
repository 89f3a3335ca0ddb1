/**
 * `npm run bench`: benchmarks (not timed tests). Each case measures a figure and, where the issue asks
 * for one, a baseline in the same run, and reports the ratio. Results also go to test-output/bench.json.
 *
 * `npm run bench -- NAME` runs the case named exactly NAME when there is one (`kafka`, `kafka.cdc-latency`),
 * otherwise the family NAME: every case whose name starts with `NAME.` (`engine` runs `engine.*`). A name
 * that matches nothing lists the cases and exits 2. A case whose server cannot be had throws `Unavailable`:
 * the run says so and goes on with the next case; a case that fails otherwise is reported and the run
 * goes on, exiting 1 at the end.
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

/** a case cannot run here: a server it needs is unreachable or not set up for it (skipped, not failed) */
export class Unavailable extends Error {}

/** the cases `filter` names: exactly one by its full name, or a family by its prefix before a dot */
export function selectCases<C extends { name: string }>(cases: C[], filter: string | undefined): C[] {
  if (!filter) return cases;
  const exact = cases.filter((c) => c.name === filter);
  return exact.length ? exact : cases.filter((c) => c.name.startsWith(`${filter}.`));
}
