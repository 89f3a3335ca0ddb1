/** The mongodb driver (and its BSON classes), loaded when a mongodb node first uses it (shared/lazy-module.ts). */
import { lazyModule } from '../shared/lazy-module.js';

export const mongo = lazyModule<typeof import('mongodb')>('mongodb');
