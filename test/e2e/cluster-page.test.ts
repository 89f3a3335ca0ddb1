/**
 * The Cluster page and the canvas of a deployed flow in cluster mode, in a real Chromium against
 * `sluice serve --cluster` with a real `sluice agent` and the real Redis: the agent with its address,
 * version, heartbeat, flows, rate, CPU and memory; each flow's agent and lease; the canvas says which
 * agent runs the flow.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { axeProblems } from '../helpers/axe.js';
import { chromiumAvailable, ensureEditorBuilt, launchChromium } from '../helpers/browser.js';
import { signInBrowser } from '../helpers/auth.js';
import { counterFlow, startAgent, type AgentProcess } from '../helpers/cluster.js';
import { tempDir } from '../helpers/node-harness.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { probeRedis, service } from '../helpers/services.js';

const chromium = chromiumAvailable();
const redisService = await service('Redis', 'REDIS_URL', 'redis://127.0.0.1:6379', probeRedis);
const LEASE = 2000;

describe.skipIf(!chromium.available || !redisService.available)('the Cluster page (Chromium + sluice serve --cluster + an agent + Redis)', () => {
  let server: ServerProcess;
  let agent: AgentProcess;
  let browser: Browser;
  let page: Page;
  let dir: string;

  beforeAll(async () => {
    ensureEditorBuilt();
    // Redis database 15 of its own (test/helpers/cluster.ts clusterFixture lists who has which)
    const url = `${redisService.url.replace(/\/\d*$/, '')}/15`;
    const redis = new Redis(url);
    await redis.flushdb();
    await redis.quit();
    dir = tempDir('sluice-cluster-page-');
    const dataDir = join(dir, 'data');
    server = await startServer({ cwd: dir, dataDir, args: ['--cluster', '--redis', url, '--lease-ms', String(LEASE)] });
    agent = startAgent({ name: 'agent-e2e', redis: url, store: dataDir, leaseMs: LEASE });
    const json = { 'content-type': 'application/json' };
    expect((await server.fetch('/api/flows', { method: 'POST', headers: json, body: JSON.stringify(counterFlow('counted', 1_000_000_000, 50)) })).status).toBe(201);
    expect((await server.fetch('/api/flows/counted/deploy', { method: 'POST', headers: json, body: '{}' })).status).toBe(202);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await signInBrowser(context, server.url);
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    agent?.signal('SIGKILL');
    await agent?.exited;
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the agent with its figures, and each flow with its agent and lease', async () => {
    await page.goto(`${server.url}/#/cluster`);
    await page.getByTestId('cluster-page').waitFor();
    const row = page.getByTestId('agent-agent-e2e');
    await row.waitFor();
    await expect.poll(() => page.getByTestId('agent-flows-agent-e2e').textContent(), { timeout: 20_000 }).toBe('1: counted');
    const cells = await row.locator('td').allTextContents();
    // name, address, version, alive since, last heartbeat, flows, records/s, CPU, memory
    expect(cells[0]).toBe('agent-e2e');
    expect(cells[1]).not.toBe('—');
    expect(cells[2]).toMatch(/^\d+\.\d+\.\d+/);
    expect(cells[3]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(cells[4]).toMatch(/^\d+ s ago$/);
    expect(cells[7]).toMatch(/^\d+ %$/);
    expect(cells[8]).toMatch(/^\d+ MB$/);
    await expect.poll(async () => Number((await row.locator('td').nth(6).textContent())!.replace(/,/g, '')), { timeout: 20_000 }).toBeGreaterThan(0);
    expect(await page.getByTestId('cluster-flow-agent-counted').textContent()).toBe('agent-e2e');
    await expect.poll(() => page.getByTestId('cluster-lease-counted').textContent(), { timeout: 10_000 }).toMatch(/^held by agent-e2e · token \d+ · \d+\.\d s left$/);
    expect(await axeProblems(page)).toEqual([]);
  });

  it('the canvas of the deployed flow says which agent runs it', async () => {
    await page.getByTestId('cluster-flow-counted').getByRole('link').click();
    await page.getByTestId('node-gen').waitFor();
    await expect.poll(() => page.getByTestId('runs-on').textContent(), { timeout: 10_000 }).toBe('on agent agent-e2e');
    expect(await page.getByTestId('canvas').getAttribute('class')).toContain('read-only');
  });
});
