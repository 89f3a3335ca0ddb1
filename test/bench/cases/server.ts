/**
 * Answer times over real HTTP against `sluice serve`, each beside GET /api/health (the least a request
 * can cost) in the same run:
 * - server.node-types: the editor's first call, GET /api/node-types (target: median under 10 ms);
 * - server.auth: what authentication adds, GET /api/flows with an API key and with a session cookie.
 */
import { startServer } from '../../helpers/server-process.js';
import { signIn } from '../../helpers/auth.js';
import { timed, type BenchCase, type Figure } from '../harness.js';

const WARMUP = 20;
const RUNS = 50;
const AUTH_RUNS = 200;

interface Target {
  url: string;
  headers?: Record<string, string>;
}

async function get(t: Target): Promise<number> {
  const res = await fetch(t.url, { headers: t.headers });
  if (!res.ok) throw new Error(`${t.url}: ${res.status}`);
  return (await res.arrayBuffer()).byteLength;
}

/** the targets in turn, so all see the same noise (the machine is shared) */
async function measure(targets: Target[], runs = RUNS): Promise<{ median: number; p95: number }[]> {
  for (let i = 0; i < WARMUP; i++) for (const t of targets) await get(t);
  const times = targets.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) for (const [j, t] of targets.entries()) times[j].push(await timed(() => get(t)));
  return times.map((t) => {
    t.sort((a, b) => a - b);
    return { median: t[Math.floor(runs / 2)], p95: t[Math.floor(runs * 0.95)] };
  });
}

export const serverCases: BenchCase[] = [
  {
    name: 'server.node-types',
    description: `GET /api/node-types over HTTP, median of ${RUNS} after ${WARMUP} warm-up, against GET /api/health (target < 10 ms)`,
    async run(): Promise<Figure[]> {
      const server = await startServer();
      try {
        const types = { url: `${server.url}/api/node-types`, headers: server.admin!.headers };
        const [typesTime, health] = await measure([types, { url: `${server.url}/api/health` }]);
        const bytes = await get(types);
        const baseline = { label: 'GET /api/health', value: health.median };
        return [
          { metric: 'GET /api/node-types median', value: typesTime.median, unit: 'ms', baseline, note: `target < 10 ms; ${(bytes / 1024).toFixed(0)} KiB` },
          { metric: 'GET /api/node-types p95', value: typesTime.p95, unit: 'ms', baseline: { label: 'GET /api/health p95', value: health.p95 } },
        ];
      } finally {
        await server.stop();
      }
    },
  },
  {
    name: 'server.auth',
    description: `authenticated GET /api/flows (API key; session cookie) beside GET /api/health, p50/p95 of ${AUTH_RUNS} each, interleaved`,
    async run(): Promise<Figure[]> {
      const server = await startServer();
      try {
        const session = await signIn(server.url);
        const flows = `${server.url}/api/flows`;
        const [health, key, cookie] = await measure(
          [{ url: `${server.url}/api/health` }, { url: flows, headers: server.admin!.headers }, { url: flows, headers: { cookie: session.cookie } }],
          AUTH_RUNS,
        );
        const p50 = { label: 'GET /api/health p50', value: health.median };
        const p95 = { label: 'GET /api/health p95', value: health.p95 };
        return [
          { metric: 'GET /api/health p50 (no auth)', value: health.median, unit: 'ms' },
          { metric: 'GET /api/health p95 (no auth)', value: health.p95, unit: 'ms' },
          { metric: 'GET /api/flows p50, Bearer key', value: key.median, unit: 'ms', baseline: p50 },
          { metric: 'GET /api/flows p95, Bearer key', value: key.p95, unit: 'ms', baseline: p95 },
          { metric: 'GET /api/flows p50, session cookie', value: cookie.median, unit: 'ms', baseline: p50 },
          { metric: 'GET /api/flows p95, session cookie', value: cookie.p95, unit: 'ms', baseline: p95 },
        ];
      } finally {
        await server.stop();
      }
    },
  },
];
