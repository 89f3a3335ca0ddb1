/**
 * The server's answer time for the editor's first call, GET /api/node-types (the catalog with every
 * config's JSON Schema), over real HTTP against `sluice serve`, against GET /api/health (the least
 * a request can cost) in the same run. Target: median under 10 ms.
 */
import { startServer } from '../../helpers/server-process.js';
import { timed, type BenchCase, type Figure } from '../harness.js';

const WARMUP = 20;
const RUNS = 50;

async function get(url: string): Promise<number> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.arrayBuffer()).byteLength;
}

/** the two URLs alternately, so both see the same noise (the machine is shared) */
async function measure(urls: string[]): Promise<{ median: number; p95: number }[]> {
  for (let i = 0; i < WARMUP; i++) for (const u of urls) await get(u);
  const times = urls.map(() => [] as number[]);
  for (let i = 0; i < RUNS; i++) for (const [j, u] of urls.entries()) times[j].push(await timed(() => get(u)));
  return times.map((t) => {
    t.sort((a, b) => a - b);
    return { median: t[Math.floor(RUNS / 2)], p95: t[Math.floor(RUNS * 0.95)] };
  });
}

export const serverCases: BenchCase[] = [
  {
    name: 'server.node-types',
    description: `GET /api/node-types over HTTP, median of ${RUNS} after ${WARMUP} warm-up, against GET /api/health (target < 10 ms)`,
    async run(): Promise<Figure[]> {
      const server = await startServer();
      try {
        const [types, health] = await measure([`${server.url}/api/node-types`, `${server.url}/api/health`]);
        const bytes = await get(`${server.url}/api/node-types`);
        const baseline = { label: 'GET /api/health', value: health.median };
        return [
          { metric: 'GET /api/node-types median', value: types.median, unit: 'ms', baseline, note: `target < 10 ms; ${(bytes / 1024).toFixed(0)} KiB` },
          { metric: 'GET /api/node-types p95', value: types.p95, unit: 'ms', baseline: { label: 'GET /api/health p95', value: health.p95 } },
        ];
      } finally {
        await server.stop();
      }
    },
  },
];
