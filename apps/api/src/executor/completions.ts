import { Batcher } from "../db/batcher.ts";
import type { Queryable } from "../db/types.ts";
import { type Scope, singleChange, type TransitionChange } from "../lifecycle/sql.ts";
import {
  type ClaimTake,
  type CompletedAndTaken,
  type CompletionItem,
  completeAndTake,
} from "./sql.ts";

/**
 * Completions that take the next job (`?next=`), batched per shape and kind of take
 * (`db/batcher.ts`): concurrent completions go to the database as one statement
 * (`sql.completeAndTake`), which shares the agents' oldest pending jobs out among them.
 */
export class CompletionBatches {
  readonly #db: Queryable;
  readonly #batchers = new Map<string, Batcher<CompletionItem, CompletedAndTaken>>();

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** Completes one job and takes its executor's next one, with the others of its shape. */
  apply(
    jobId: string,
    scope: Scope,
    change: TransitionChange,
    take: ClaimTake,
  ): Promise<CompletedAndTaken> {
    const { shape, item } = singleChange(jobId, scope, change);
    const kind = take.kind;
    const key = `${shape.to}|${shape.actor}|${shape.scope}|${shape.from.join(",")}|${kind}`;
    let batcher = this.#batchers.get(key);
    if (!batcher) {
      batcher = new Batcher((items) => completeAndTake(this.#db, shape, kind, items));
      this.#batchers.set(key, batcher);
    }
    return batcher.submit({ ...item, take });
  }
}
