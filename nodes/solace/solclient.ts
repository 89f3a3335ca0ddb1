/**
 * The Solace adapter over solclientjs: guaranteed (persistent) publishing with per-message
 * acknowledgement (ACKNOWLEDGED_MESSAGE / REJECTED_MESSAGE_ERROR by correlation key), and queue consumers
 * with client acknowledgement. The session reconnects by itself a few times; when it gives up it reports
 * `down` and the node opens a new one. Tested against a real broker only when SOLACE_URL is set.
 */
import type solace from 'solclientjs';
import { lazyModule } from '../shared/lazy-module.js';
import type { Destination, QueueConsumer, ReceivedMessage, SessionEvent, SolaceAdapter, SolaceConnectOptions, SolaceSession } from './adapter.js';

/** solclientjs, loaded when a solace node first connects (shared/lazy-module.ts) */
const sol = lazyModule<typeof solace>('solclientjs');

let initialised = false;
function init(): void {
  if (initialised) return;
  const props = new sol.SolclientFactoryProperties();
  props.profile = sol.SolclientFactoryProfiles.version10;
  props.logLevel = sol.LogLevel.WARN;
  sol.SolclientFactory.init(props);
  initialised = true;
}

const text = (e: unknown) => {
  const ev = e as { infoStr?: string; message?: string; reason?: string };
  return ev?.infoStr || ev?.message || String(ev?.reason ?? e);
};

class SolclientSession implements SolaceSession {
  private readonly listeners: ((e: SessionEvent) => void)[] = [];
  private readonly inflight = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextKey = 1;

  constructor(private readonly session: solace.Session, private readonly options: SolaceConnectOptions) {
    const S = sol.SessionEventCode;
    session.on(S.ACKNOWLEDGED_MESSAGE, (e: solace.SessionEvent) => this.settle(e, undefined));
    session.on(S.REJECTED_MESSAGE_ERROR, (e: solace.SessionEvent) => this.settle(e, new Error(`the broker rejected the message: ${text(e)}`)));
    session.on(S.RECONNECTING_NOTICE, (e: solace.SessionEvent) => this.emit({ type: 'reconnecting', info: text(e) }));
    session.on(S.RECONNECTED_NOTICE, (e: solace.SessionEvent) => this.emit({ type: 'reconnected', info: text(e) }));
    const down = (e: solace.SessionEvent) => {
      for (const p of this.inflight.values()) p.reject(new Error(`the session went down before the broker acknowledged: ${text(e)}`));
      this.inflight.clear();
      this.emit({ type: 'down', info: text(e) });
    };
    session.on(S.DOWN_ERROR, down);
    session.on(S.DISCONNECTED, down);
  }

  private settle(e: solace.SessionEvent, err: Error | undefined): void {
    const key = Number((e as unknown as { correlationKey?: unknown }).correlationKey);
    const p = this.inflight.get(key);
    if (!p) return;
    this.inflight.delete(key);
    if (err) p.reject(err);
    else p.resolve();
  }

  private emit(e: SessionEvent): void {
    for (const l of this.listeners) l(e);
  }

  onEvent(listener: (e: SessionEvent) => void): void {
    this.listeners.push(listener);
  }

  publish(destination: Destination, payload: Uint8Array, options: { properties?: Record<string, string>; id?: string } = {}): Promise<void> {
    const msg = sol.SolclientFactory.createMessage();
    msg.setDestination(destination.kind === 'queue' ? sol.SolclientFactory.createDurableQueueDestination(destination.name) : sol.SolclientFactory.createTopicDestination(destination.name));
    msg.setBinaryAttachment(payload);
    msg.setDeliveryMode(sol.MessageDeliveryModeType.PERSISTENT);
    if (options.id) msg.setApplicationMessageId(options.id);
    if (options.properties && Object.keys(options.properties).length) {
      const map = new sol.SDTMapContainer();
      for (const [k, v] of Object.entries(options.properties)) map.addField(k, sol.SDTField.create(sol.SDTFieldType.STRING, v));
      msg.setUserPropertyMap(map);
    }
    const key = this.nextKey++;
    msg.setCorrelationKey(key as unknown as object);
    return new Promise((resolve, reject) => {
      this.inflight.set(key, { resolve, reject });
      try {
        this.session.send(msg);
      } catch (err) {
        this.inflight.delete(key);
        reject(new Error(text(err)));
      }
    });
  }

  consume(queue: string, options: { topics?: string[]; window: number }, onMessage: (m: ReceivedMessage) => void): Promise<QueueConsumer> {
    const consumer = this.session.createMessageConsumer({
      queueDescriptor: { name: queue, type: sol.QueueType.QUEUE },
      acknowledgeMode: sol.MessageConsumerAcknowledgeMode.CLIENT,
      windowSize: Math.max(1, Math.min(255, options.window)),
    } as unknown as solace.MessageConsumerProperties);
    const E = sol.MessageConsumerEventName;
    consumer.on(E.MESSAGE, (m: solace.Message) => {
      const props: Record<string, string> = {};
      const map = m.getUserPropertyMap();
      for (const k of map?.getKeys() ?? []) props[k] = String(map!.getField(k).getValue());
      const data = m.getBinaryAttachment();
      onMessage({
        destination: m.getDestination()?.getName() ?? queue,
        payload: typeof data === 'string' ? Buffer.from(data, 'latin1') : new Uint8Array(data as unknown as ArrayBuffer),
        redelivered: m.isRedelivered(),
        id: m.getApplicationMessageId() ?? undefined,
        properties: props,
        ack: () => m.acknowledge(),
      });
    });
    return new Promise((resolve, reject) => {
      consumer.on(E.UP, async () => {
        try {
          for (const t of options.topics ?? []) await this.subscribe(consumer, t);
          resolve({ close: () => this.closeConsumer(consumer) });
        } catch (err) {
          reject(err);
        }
      });
      consumer.on(E.CONNECT_FAILED_ERROR, (e: unknown) => reject(new Error(`cannot bind to queue ${queue}: ${text(e)}`)));
      consumer.connect();
    });
  }

  private subscribe(consumer: solace.MessageConsumer, topic: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const E = sol.MessageConsumerEventName;
      consumer.on(E.SUBSCRIPTION_OK, () => resolve());
      consumer.on(E.SUBSCRIPTION_ERROR, (e: unknown) => reject(new Error(`cannot subscribe the queue to ${topic}: ${text(e)}`)));
      consumer.addSubscription(sol.SolclientFactory.createTopicDestination(topic), topic as unknown as object, 10_000);
    });
  }

  private closeConsumer(consumer: solace.MessageConsumer): Promise<void> {
    return new Promise((resolve) => {
      consumer.on(sol.MessageConsumerEventName.DOWN, () => resolve());
      try {
        consumer.disconnect();
      } catch {
        resolve();
      }
      setTimeout(resolve, 2000).unref();
    });
  }

  describe(): string {
    return `${this.options.url} (VPN ${this.options.vpn})`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.session.on(sol.SessionEventCode.DISCONNECTED, () => resolve());
      try {
        this.session.disconnect();
      } catch {
        resolve();
      }
      setTimeout(() => {
        try {
          this.session.dispose();
        } catch {
          /* gone */
        }
        resolve();
      }, 2000).unref();
    });
  }
}

export const solclientAdapter: SolaceAdapter = {
  connect(options) {
    init();
    return new Promise((resolve, reject) => {
      let session: solace.Session;
      try {
        session = sol.SolclientFactory.createSession({
          url: options.url,
          vpnName: options.vpn,
          userName: options.user,
          password: options.password ?? '',
          clientName: options.clientName ?? '',
          connectTimeoutInMsecs: options.connectTimeoutMs,
          connectRetries: 0,
          reconnectRetries: 20,
          reconnectRetryWaitInMsecs: 500,
          publisherProperties: { acknowledgeMode: sol.MessagePublisherAcknowledgeMode.PER_MESSAGE },
        } as unknown as solace.SessionProperties);
      } catch (err) {
        return reject(new Error(text(err)));
      }
      const S = sol.SessionEventCode;
      session.on(S.UP_NOTICE, () => resolve(new SolclientSession(session, options)));
      session.on(S.CONNECT_FAILED_ERROR, (e: unknown) => reject(new Error(`cannot connect to ${options.url}: ${text(e)}`)));
      try {
        session.connect();
      } catch (err) {
        reject(new Error(text(err)));
      }
    });
  },
};
