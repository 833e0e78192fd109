import type { Queryable } from "../db/types.ts";
import { TtlMap } from "../ttl-map.ts";
import { findPrincipalByKeyHash, type PrincipalRow } from "./sql.ts";

/** The channel the `api_keys_notify_revoked` trigger notifies with a revoked key's hash. */
export const KEY_CHANNEL = "agnt_keys";

export interface KeyCacheOptions {
  /** How long a looked-up key is trusted without reading it again (0: no cache). */
  ttlMs: number;
  /** Keys remembered at most (the oldest are forgotten first). */
  maxEntries?: number;
}

/**
 * Active keys by hash, so that a request costs no key query: the lookup every request makes
 * is served from memory for at most `ttlMs`. Revocation is exact, not eventual: revoking a key
 * notifies every API process (the database trigger sends its hash on `agnt_keys`), each
 * forgets it at once, and while the notification connection is lost (`clear()`) nothing is
 * trusted from before. A lookup racing a revocation never stores its stale answer. Unknown
 * keys are not cached.
 */
export class KeyCache {
  readonly #db: Queryable;
  readonly #entries: TtlMap<string, PrincipalRow>;
  /** Bumped by every forget/clear: lookups that started before one do not store. */
  #epoch = 0;

  constructor(db: Queryable, options: KeyCacheOptions) {
    this.#db = db;
    this.#entries = new TtlMap(options);
  }

  /** The principal behind an active key hash, from memory when fresh. */
  async lookup(hash: string): Promise<PrincipalRow | undefined> {
    const cached = this.#entries.get(hash);
    if (cached) return cached;
    const epoch = this.#epoch;
    const principal = await findPrincipalByKeyHash(this.#db, hash);
    if (!principal) this.#entries.delete(hash);
    else if (epoch === this.#epoch) this.#entries.set(hash, principal);
    return principal;
  }

  /** Forgets one key (it was revoked). */
  forget(hash: string): void {
    this.#epoch += 1;
    this.#entries.delete(hash);
  }

  /** Forgets every key (revocations may have been missed). */
  clear(): void {
    this.#epoch += 1;
    this.#entries.clear();
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.#entries.size;
  }

  /** What the process's notification listener calls for `agnt_keys`. */
  readonly listener = {
    onNotify: (payload: string) => {
      if (/^[0-9a-f]{64}$/.test(payload)) this.forget(payload);
      else this.clear();
    },
    onReconnect: () => this.clear(),
  };
}
