/**
 * The solclientjs adapter (nodes/solace/solclient.ts) against a real Solace broker. No Solace broker or
 * emulator can run on this machine, so this runs only when SOLACE_URL is set (tcp://host:55555 or
 * ws://host:8008; SOLACE_VPN, SOLACE_USER, SOLACE_PASSWORD, and SOLACE_QUEUE: an existing durable queue
 * the user may publish to and consume, default sluice-test). Without SOLACE_URL it is skipped with a loud
 * notice, under CI=true too: the nodes' own tests (test/unit/solace.test.ts) run against a fake broker.
 */
import { describe, expect, it } from 'vitest';
import { testConnection } from '../../nodes/solace/connection.js';
import { solclientAdapter } from '../../nodes/solace/solclient.js';
import type { ReceivedMessage } from '../../nodes/solace/adapter.js';

const url = process.env.SOLACE_URL;
if (!url) process.stderr.write('\n\x1b[33m!!! SKIPPING the Solace adapter tests: SOLACE_URL is not set (no Solace broker can run here; the nodes are tested through a fake broker)\x1b[0m\n\n');
const options = { url: url ?? '', vpn: process.env.SOLACE_VPN ?? 'default', user: process.env.SOLACE_USER ?? 'default', password: process.env.SOLACE_PASSWORD, connectTimeoutMs: 10_000 };
const queue = process.env.SOLACE_QUEUE ?? 'sluice-test';

describe.skipIf(!url)('solclientjs adapter against a real broker (SOLACE_URL)', () => {
  it('publishes guaranteed messages (acknowledged), consumes them with client acks, and the queue ends empty', async () => {
    const session = await solclientAdapter.connect(options);
    try {
      const tag = `run-${Date.now()}`;
      await Promise.all(Array.from({ length: 20 }, (_, i) => session.publish({ kind: 'queue', name: queue }, Buffer.from(JSON.stringify({ tag, i })))));
      const got: ReceivedMessage[] = [];
      const consumer = await session.consume(queue, { window: 50 }, (m) => got.push(m));
      const deadline = Date.now() + 20_000;
      while (got.filter((m) => Buffer.from(m.payload).toString().includes(tag)).length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const m of got) m.ack();
      expect(got.filter((m) => Buffer.from(m.payload).toString().includes(tag))).toHaveLength(20);
      await consumer.close();
    } finally {
      await session.close();
    }
  });

  it('the connection test reaches the broker and binds to the queue', async () => {
    const r = await testConnection(solclientAdapter, { url, vpn: options.vpn, user: options.user, password: options.password, queue });
    expect(r.ok, r.ok ? '' : r.error).toBe(true);
  });
});

describe('solclientjs adapter without a broker', () => {
  it('a connect to a closed port fails fast with a message that names the URL', async () => {
    const r = await testConnection(solclientAdapter, { url: 'tcp://127.0.0.1:1', timeoutMs: 3000 });
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toMatch(/cannot connect to tcp:\/\/127\.0\.0\.1:1/);
  });
});
