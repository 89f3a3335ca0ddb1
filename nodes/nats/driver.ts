/** The NATS client libraries, loaded when a nats node first connects (shared/lazy-module.ts). */
import { lazyModule } from '../shared/lazy-module.js';

export const transport = lazyModule<typeof import('@nats-io/transport-node')>('@nats-io/transport-node');
export const js = lazyModule<typeof import('@nats-io/jetstream')>('@nats-io/jetstream');
