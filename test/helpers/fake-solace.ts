/**
 * A Solace broker in memory that behaves like one where it matters to the nodes (no Solace broker can run
 * here; the real adapter is tested against one when SOLACE_URL is set): guaranteed messages stored in
 * queues (topics routed to the queues subscribed to them), publishes acknowledged asynchronously or
 * rejected (`rejectWhen`), consumers with a window of unacknowledged deliveries, client acks that remove
 * a message, and `crash()`: every session goes down, what was delivered and not acked is redelivered
 * (flagged) to the next consumer, connects fail until `restart()`.
 */
import type { Destination, QueueConsumer, ReceivedMessage, SessionEvent, SolaceAdapter, SolaceConnectOptions, SolaceSession } from '../../nodes/solace/adapter.js';

interface Stored {
  seq: number;
  payload: Uint8Array;
  properties?: Record<string, string>;
  destination: string;
  redelivered: boolean;
  /** the consumer holding it unacked */
  holder?: FakeConsumer;
}

class FakeConsumer implements QueueConsumer {
  alive = true;
  unacked = 0;
  constructor(readonly broker: FakeBroker, readonly session: FakeSession, readonly queue: string, readonly window: number, readonly onMessage: (m: ReceivedMessage) => void) {}
  async close(): Promise<void> {
    this.broker.release(this);
  }
}

class FakeSession implements SolaceSession {
  alive = true;
  listeners: ((e: SessionEvent) => void)[] = [];
  consumers: FakeConsumer[] = [];
  constructor(readonly broker: FakeBroker) {}
  onEvent(l: (e: SessionEvent) => void): void {
    this.listeners.push(l);
  }
  publish(destination: Destination, payload: Uint8Array, options: { properties?: Record<string, string> } = {}): Promise<void> {
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        if (!this.alive) return reject(new Error('session down'));
        const reason = this.broker.rejectWhen?.(destination, payload);
        if (reason) return reject(new Error(`the broker rejected the message: ${reason}`));
        this.broker.store(destination, payload, options.properties);
        resolve();
      }),
    );
  }
  async consume(queue: string, options: { topics?: string[]; window: number }, onMessage: (m: ReceivedMessage) => void): Promise<QueueConsumer> {
    if (!this.alive) throw new Error('session down');
    if (!this.broker.queues.has(queue)) throw new Error(`Unknown Queue: ${queue}`);
    for (const t of options.topics ?? []) this.broker.subscribe(queue, t);
    const c = new FakeConsumer(this.broker, this, queue, options.window, onMessage);
    this.consumers.push(c);
    setImmediate(() => this.broker.pump(queue));
    return c;
  }
  describe(): string {
    return 'fake broker';
  }
  async close(): Promise<void> {
    for (const c of this.consumers) this.broker.release(c);
    this.alive = false;
  }
}

export class FakeBroker implements SolaceAdapter {
  queues = new Map<string, Stored[]>();
  subscriptions = new Map<string, string[]>();
  sessions: FakeSession[] = [];
  up = true;
  seq = 0;
  /** a reason to refuse a publish (queue full, no permission), or undefined to take it */
  rejectWhen?: (d: Destination, payload: Uint8Array) => string | undefined;
  connects = 0;

  addQueue(name: string): void {
    if (!this.queues.has(name)) this.queues.set(name, []);
  }

  async connect(_options: SolaceConnectOptions): Promise<SolaceSession> {
    this.connects++;
    if (!this.up) throw new Error('cannot connect: connection refused');
    const s = new FakeSession(this);
    this.sessions.push(s);
    return s;
  }

  subscribe(queue: string, topic: string): void {
    const qs = this.subscriptions.get(topic) ?? [];
    if (!qs.includes(queue)) qs.push(queue);
    this.subscriptions.set(topic, qs);
  }

  store(d: Destination, payload: Uint8Array, properties?: Record<string, string>): void {
    const queues = d.kind === 'queue' ? [d.name] : (this.subscriptions.get(d.name) ?? []);
    for (const q of queues) {
      this.addQueue(q);
      this.queues.get(q)!.push({ seq: ++this.seq, payload, properties, destination: d.name, redelivered: false });
      setImmediate(() => this.pump(q));
    }
  }

  /** delivers what is waiting to the queue's live consumers, within their windows */
  pump(queue: string): void {
    const consumers = this.sessions.flatMap((s) => s.consumers).filter((c) => c.alive && c.queue === queue);
    for (const m of this.queues.get(queue) ?? []) {
      if (m.holder) continue;
      const c = consumers.find((x) => x.unacked < x.window);
      if (!c) return;
      m.holder = c;
      c.unacked++;
      c.onMessage({
        destination: m.destination,
        payload: m.payload,
        redelivered: m.redelivered,
        id: `m${m.seq}`,
        properties: m.properties,
        ack: () => {
          if (!c.alive || !c.session.alive) throw new Error('the flow of this message is closed');
          const list = this.queues.get(queue)!;
          const i = list.indexOf(m);
          if (i >= 0) list.splice(i, 1);
          c.unacked--;
          setImmediate(() => this.pump(queue));
        },
      });
    }
  }

  /** a consumer that goes away: its unacked messages are delivered again, flagged */
  release(c: FakeConsumer): void {
    if (!c.alive) return;
    c.alive = false;
    for (const m of this.queues.get(c.queue) ?? []) {
      if (m.holder === c) {
        m.holder = undefined;
        m.redelivered = true;
      }
    }
    setImmediate(() => this.pump(c.queue));
  }

  /** the broker goes away: every session down, connects refused until restart() */
  crash(): void {
    this.up = false;
    for (const s of this.sessions.filter((x) => x.alive)) {
      s.alive = false;
      for (const c of s.consumers) this.release(c);
      for (const l of s.listeners) l({ type: 'down', info: 'connection reset by peer' });
    }
  }

  restart(): void {
    this.up = true;
  }

  /** the payloads in a queue, as text */
  texts(queue: string): string[] {
    return (this.queues.get(queue) ?? []).map((m) => Buffer.from(m.payload).toString());
  }
}
