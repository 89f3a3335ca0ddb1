/**
 * A connector's driver (pg, mysql2, mongodb, kafkajs, solclientjs...) loaded on its first use instead of
 * when the catalog is imported: every process imports the whole catalog (its schemas are the editor's
 * forms and the docs), and loading every driver cost each process about 30 MiB it never used. A flow
 * loads only the drivers of the nodes it runs. Use the object's members where the value is needed
 * (`driver.Pool`, `x instanceof mongo.MongoServerError`), never destructure it at a module's top level.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export function lazyModule<T extends object>(id: string): T {
  let loaded: T | undefined;
  const target = () => (loaded ??= load(id) as T);
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    has: (_, key) => Reflect.has(target(), key),
  });
}
