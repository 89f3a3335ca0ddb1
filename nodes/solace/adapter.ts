/**
 * What solace.source and solace.sink need from a Solace broker, and nothing more: a session that
 * publishes guaranteed messages (resolved when the broker acknowledged each, rejected when it refused
 * one) and binds to a queue with client acknowledgement. The nodes are written against this interface;
 * solclient.ts implements it with solclientjs, and the tests drive the nodes through a fake that behaves
 * like the broker (acks, rejections, redelivery, disconnects), since no Solace broker can run here.
 */

export interface SolaceConnectOptions {
  /** ws://, wss://, tcp:// or tcps:// host:port (several comma-separated for fail-over) */
  url: string;
  vpn: string;
  user: string;
  password?: string;
  clientName?: string;
  connectTimeoutMs: number;
}

export type Destination = { kind: 'topic' | 'queue'; name: string };

export interface ReceivedMessage {
  destination: string;
  payload: Uint8Array;
  /** the broker delivered it before (to this consumer or another) */
  redelivered: boolean;
  /** the broker's id of the message (for messages and keys), when it has one */
  id?: string;
  properties?: Record<string, string>;
  /** settles it on the broker (removes it from the queue); throws when the session it came on is gone */
  ack(): void;
}

export interface QueueConsumer {
  close(): Promise<void>;
}

/** `down`: the session is gone for good (the adapter's own reconnects gave up); unacked messages come back on a new session */
export type SessionEvent = { type: 'reconnecting' | 'reconnected'; info: string } | { type: 'down'; info: string };

export interface SolaceSession {
  /** resolves when the broker acknowledged the message, rejects (with the broker's reason) when it refused it */
  publish(destination: Destination, payload: Uint8Array, options?: { properties?: Record<string, string>; id?: string }): Promise<void>;
  /** binds to a durable queue (subscribing it to `topics` first) and hands each message to `onMessage`; `window` bounds unacked deliveries */
  consume(queue: string, options: { topics?: string[]; window: number }, onMessage: (m: ReceivedMessage) => void): Promise<QueueConsumer>;
  onEvent(listener: (e: SessionEvent) => void): void;
  /** what the broker says about itself (for connection tests) */
  describe(): string;
  close(): Promise<void>;
}

export interface SolaceAdapter {
  connect(options: SolaceConnectOptions): Promise<SolaceSession>;
}
