/**
 * A small least-recently-used cache with a time to live, for lookup results (no LRU package is a
 * dependency of Sluice). A Map keeps insertion order: a hit moves the entry to the end, eviction takes
 * from the front (the least recently used). An expired entry is dropped when it is read.
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number }>();

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
    this.entries.delete(key);
    if (entry.expires <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expires: this.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as K);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
