import type { Queryable } from "../db/types.ts";
import { TtlMap } from "../ttl-map.ts";
import { countTagged } from "./sql.ts";

/**
 * How many agents have a set of tags (`sql.countTagged`, up to NARROW_TAGGED + 1), remembered
 * for a minute: it only chooses how a search finds its matches, never which, so a count that
 * is a little stale costs a little time at worst. Counting reads up to NARROW_TAGGED agents:
 * once a minute per set of tags, not on every keystroke of a search.
 */
export class TagCounts {
  readonly #counts = new TtlMap<string, number>({ ttlMs: 60_000, maxEntries: 10_000 });

  /** How many agents have every one of `tags`, from memory when remembered. */
  async get(db: Queryable, tags: string[]): Promise<number> {
    const key = JSON.stringify([...tags].sort());
    const known = this.#counts.get(key);
    if (known !== undefined) return known;
    const counted = await countTagged(db, tags);
    this.#counts.set(key, counted);
    return counted;
  }
}
