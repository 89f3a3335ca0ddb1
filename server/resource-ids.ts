/**
 * The id of a stored flow or connection in URLs. It is its name; a name stored before names were
 * limited to 128 characters (runtime/flow/limits.ts) may be too long for any URL, so such a one is
 * `~` + a hash of it: `~` is never in a name, and GET and DELETE reach it by that id.
 */
import { createHash } from 'node:crypto';
import { LIMITS } from '../runtime/host.js';

const LEGACY = '~';

export function resourceId(name: string): string {
  if (name.length <= LIMITS.nameLength) return name;
  return `${LEGACY}${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}

/** the stored name an id stands for (the id itself, unless it is a hashed one: then `names` are searched) */
export async function nameOfId(id: string, names: () => Promise<Iterable<string>>): Promise<string> {
  if (!id.startsWith(LEGACY)) return id;
  for (const name of await names()) if (name.length > LIMITS.nameLength && resourceId(name) === id) return name;
  return id;
}
