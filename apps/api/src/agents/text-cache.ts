import type { Queryable } from "../db/types.ts";
import { TtlMap } from "../ttl-map.ts";
import { searchText } from "./sql.ts";
import type { SearchText } from "./statements.ts";

/**
 * Search texts as searched (`sql.searchText`), remembered, so that a repeated search costs one
 * statement instead of two. Normalizing a text's words with PostgreSQL's English dictionary
 * gives the same answer every time: remembered for ten minutes. A text with no trigram also
 * carries where the window of newest agents starts, which moves as agents are added:
 * remembered for ten seconds (an agent added since is newer still, so it is in the window).
 */
export class SearchTexts {
  readonly #fixed = new TtlMap<string, SearchText>({ ttlMs: 10 * 60_000, maxEntries: 10_000 });
  readonly #windowed = new TtlMap<string, SearchText>({ ttlMs: 10_000, maxEntries: 1_000 });

  /** The text as searched, from memory when remembered. */
  async get(db: Queryable, text: string): Promise<SearchText> {
    const known = this.#fixed.get(text) ?? this.#windowed.get(text);
    if (known) return known;
    const resolved = await searchText(db, text);
    // Only a text with no trigram carries a window start (`textStatement`).
    (resolved.indexable ? this.#fixed : this.#windowed).set(text, resolved);
    return resolved;
  }
}
