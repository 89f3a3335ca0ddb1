/**
 * GET /metrics over real HTTP (an in-process server on a real SQLite store), parsed by a strict
 * Prometheus text parser: each count equals what the run's summary says, the histograms are whole,
 * the process metrics are there, and it is protected like the API. Then `sluice run --metrics-port`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyFor } from '../helpers/auth.js';
import { startCli, until } from '../helpers/cli.js';
import { inProcessServerForFile } from '../helpers/in-process-server.js';
import { parsePrometheusText, sampleValue, type Family } from '../helpers/prom-text.js';

const COUNT = 2500;

const flow = (name: string, extra: { rate?: number; count?: number } = {}) => ({
  apiVersion: 'sluice/v1',
  name,
  settings: { batchSize: 100 },
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: extra.count ?? COUNT, ...(extra.rate ? { rate: extra.rate } : {}) } },
    // every tenth record fails: errors and dead letters to count
    { id: 'tens', type: 'core.map', config: { code: '(v) => { if (v.n % 10 === 0) throw new Error("a multiple of ten"); return v; }' } },
    { id: 'out', type: 'file.sink', config: { path: `out-${name}.jsonl` } },
  ],
  edges: [
    { from: 'gen', to: 'tens' },
    { from: 'tens', to: 'out' },
  ],
});

const srv = inProcessServerForFile();
let viewer: Record<string, string>;

beforeAll(async () => {
  viewer = (await keyFor(srv.server, 'reader', 'viewer')).headers;
});

async function scrape(headers: Record<string, string>): Promise<Map<string, Family>> {
  const res = await fetch(`${srv.url}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

describe('GET /metrics', () => {
  it('refuses anonymous callers and an unknown key, like the API', async () => {
    expect((await fetch(`${srv.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${srv.url}/metrics`, { headers: { authorization: 'Bearer sluice_not-a-key' } })).status).toBe(401);
  });

  it("counts what the run's summary counts, per flow and node, with durations, state and the process", async () => {
    const post = (path: string, body: unknown) => fetch(srv.url + path, { method: 'POST', headers: { ...srv.admin, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/api/flows', flow('metered'))).status).toBe(201);
    expect((await post('/api/flows/metered/deploy', {})).status).toBe(202);
    let status: any;
    const deadline = Date.now() + 60_000;
    do {
      await new Promise((r) => setTimeout(r, 100));
      status = await (await fetch(`${srv.url}/api/flows/metered/status`, { headers: srv.admin })).json();
    } while (status.status !== 'completed' && status.status !== 'failed' && Date.now() < deadline);
    expect(status.status).toBe('completed');

    const m = await scrape(viewer); // a viewer's key is enough
    const written = readFileSync(join(srv.dir, 'out-metered.jsonl'), 'utf8').trim().split('\n').length;
    expect(written).toBe(COUNT - COUNT / 10);
    for (const node of ['gen', 'tens', 'out']) {
      const labels = { flow: 'metered', node };
      expect(sampleValue(m, 'sluice_node_records_in_total', labels), `${node} in`).toBe(status.nodes[node].in);
      expect(sampleValue(m, 'sluice_node_records_out_total', labels), `${node} out`).toBe(status.nodes[node].out);
      expect(sampleValue(m, 'sluice_node_errors_total', labels), `${node} errors`).toBe(status.nodes[node].errors);
    }
    expect(sampleValue(m, 'sluice_node_records_out_total', { flow: 'metered', node: 'out' })).toBe(written);
    expect(sampleValue(m, 'sluice_node_errors_total', { flow: 'metered', node: 'tens' })).toBe(COUNT / 10);
    expect(sampleValue(m, 'sluice_flow_dead_letters_total', { flow: 'metered' })).toBe(status.deadLetters);
    expect(status.deadLetters).toBe(COUNT / 10);
    expect(m.get('sluice_node_records_in_total')!.type).toBe('counter');

    expect(sampleValue(m, 'sluice_deployment_state', { flow: 'metered', state: 'completed' })).toBe(1);
    expect(sampleValue(m, 'sluice_deployment_state', { flow: 'metered', state: 'running' })).toBe(0);
    expect(sampleValue(m, 'sluice_node_queue_depth', { flow: 'metered', node: 'out' })).toBe(0);

    // one observation per batch: 25 batches into the map, and the sink wrote each (none was emptied by the errors)
    expect(sampleValue(m, 'sluice_node_batch_duration_seconds_count', { flow: 'metered', node: 'tens' })).toBe(COUNT / 100);
    expect(sampleValue(m, 'sluice_node_batch_duration_seconds_count', { flow: 'metered', node: 'out' })).toBe(COUNT / 100);
    expect(sampleValue(m, 'sluice_node_batch_duration_seconds_sum', { flow: 'metered', node: 'out' })).toBeGreaterThan(0);
    expect(sampleValue(m, 'sluice_checkpoint_duration_seconds_count', { flow: 'metered' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(m, 'sluice_sandbox_calls_total')).toBeGreaterThanOrEqual(COUNT / 100);
    expect(sampleValue(m, 'sluice_sandbox_worker_restarts_total')).toBeGreaterThanOrEqual(0);

    expect(m.get('process_cpu_seconds_total')?.type).toBe('counter');
    expect(m.get('process_resident_memory_bytes')?.type).toBe('gauge');
    expect(sampleValue(m, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  }, 90_000);

  it('rejects text a Prometheus server would refuse (the parser is strict)', () => {
    expect(() => parsePrometheusText('x_total 1\n')).toThrow(/no TYPE/);
    expect(() => parsePrometheusText('# TYPE x counter\nx{a="b} 1\n')).toThrow(/unterminated/);
    expect(() => parsePrometheusText('# TYPE x counter\nx 1e\n')).toThrow(/not a sample value/);
    expect(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n')).toThrow(/cumulative/);
    expect(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\n')).toThrow(/_count/);
  });
});

describe('sluice run --metrics-port', () => {
  it('serves the running flow\'s metrics on loopback, counts growing toward the summary', async () => {
    const file = join(srv.dir, 'slow.json');
    writeFileSync(file, JSON.stringify(flow('slow', { count: 600, rate: 200 })));
    const { child, done } = startCli(['run', file, '--state', join(srv.dir, 'cli-state.db'), '--metrics-port', '0', '--json'], { cwd: srv.dir });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    await until(() => /metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/.test(stderr), 20_000, 'the metrics line');
    const port = /127\.0\.0\.1:(\d+)/.exec(stderr)![1];
    let m: Map<string, Family> | undefined;
    let read = 0;
    const deadline = Date.now() + 20_000;
    while (read === 0 && Date.now() < deadline) {
      m = parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      read = sampleValue(m, 'sluice_node_records_out_total', { flow: 'slow', node: 'gen' }) ?? 0;
      if (read === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(read).toBeGreaterThan(0);
    expect(sampleValue(m!, 'sluice_deployment_state', { flow: 'slow', state: 'running' })).toBe(1);
    expect(m!.get('process_cpu_seconds_total')).toBeDefined();
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    const result = await done;
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary.nodes.gen.out).toBe(600);
    expect(summary.nodes.gen.out).toBeGreaterThanOrEqual(read);
    expect(summary.nodes.tens.errors).toBe(60);
  }, 60_000);

  it('says so when the port is taken (exit 2, one line)', async () => {
    const file = join(srv.dir, 'long.json');
    writeFileSync(file, JSON.stringify(flow('long', { count: 1_000_000, rate: 100 })));
    const first = startCli(['run', file, '--state', join(srv.dir, 'cli-state2.db'), '--metrics-port', '0'], { cwd: srv.dir });
    let stderr = '';
    first.child.stderr!.on('data', (d) => (stderr += d));
    await until(() => /127\.0\.0\.1:(\d+)/.test(stderr), 20_000, 'the first run');
    const port = /127\.0\.0\.1:(\d+)/.exec(stderr)![1];
    const second = await startCli(['run', file, '--state', join(srv.dir, 'cli-state3.db'), '--metrics-port', port], { cwd: srv.dir }).done;
    first.child.kill('SIGINT');
    await first.done;
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`--metrics-port ${port}: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  }, 60_000);
});
