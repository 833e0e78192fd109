/**
 * A bounded map whose entries expire: what the process remembers of the database (keys,
 * agents). An entry is served for `ttlMs` after it was set (never with `ttlMs` 0); past
 * `maxEntries` the oldest is forgotten first.
 */
export class TtlMap<K, V> {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<K, { value: V; until: number }>();

  constructor(options: { ttlMs: number; maxEntries?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** The value, while it is fresh. */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    return entry && entry.until > Date.now() ? entry.value : undefined;
  }

  /** Remembers `value` for `ttlMs` from now (a no-op with `ttlMs` 0). */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    if (this.#ttlMs <= 0) return;
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, until: Date.now() + this.#ttlMs });
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
