/**
 * A small least-recently-used cache with a time to live, for lookup results (no LRU package is a
 * dependency of Sluice). A Map finds the entry; the entries also form a list from the least to the
 * most recently used, so a hit moves its entry by relinking it rather than deleting and re-adding it
 * in the Map (which fills the Map with deleted slots and rebuilds it). Eviction takes the least
 * recently used. An expired entry is dropped when it is read.
 */
interface Entry<K, V> {
  key: K;
  value: V;
  expires: number;
  /** the next less (older) / more (newer) recently used entry */
  older: Entry<K, V> | undefined;
  newer: Entry<K, V> | undefined;
}

export class LruCache<K, V> {
  private readonly entries = new Map<K, Entry<K, V>>();
  /** the least and the most recently used entries */
  private oldest: Entry<K, V> | undefined;
  private newest: Entry<K, V> | undefined;

  /**
   * @param maxEntries at most this many entries; 0 keeps nothing
   * @param ttlMs an entry is served for this long after it was set
   * @param now the clock, ms (tests pass their own)
   */
  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** the value, or undefined when it is missing or expired */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.unlink(entry);
      this.entries.delete(key);
      return undefined;
    }
    if (entry !== this.newest) {
      this.unlink(entry);
      this.append(entry);
    }
    return entry.value;
  }

  set(key: K, value: V): void {
    if (this.maxEntries <= 0) return;
    const expires = this.now() + this.ttlMs;
    let entry = this.entries.get(key);
    if (entry) {
      this.unlink(entry);
      entry.value = value;
      entry.expires = expires;
    } else {
      entry = { key, value, expires, older: undefined, newer: undefined };
      this.entries.set(key, entry);
    }
    this.append(entry);
    while (this.entries.size > this.maxEntries) {
      const lru = this.oldest!;
      this.unlink(lru);
      this.entries.delete(lru.key);
    }
  }

  clear(): void {
    this.entries.clear();
    this.oldest = this.newest = undefined;
  }

  private unlink(e: Entry<K, V>): void {
    if (e.older) e.older.newer = e.newer;
    else this.oldest = e.newer;
    if (e.newer) e.newer.older = e.older;
    else this.newest = e.older;
    e.older = e.newer = undefined;
  }

  /** makes `e` (not in the list) the most recently used */
  private append(e: Entry<K, V>): void {
    e.older = this.newest;
    if (this.newest) this.newest.newer = e;
    else this.oldest = e;
    this.newest = e;
  }
}
