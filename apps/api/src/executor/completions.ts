import { KeyedBatchers } from "../db/batcher.ts";
import type { Queryable } from "../db/types.ts";
import { type Scope, shapeKey, singleChange, type TransitionChange } from "../lifecycle/sql.ts";
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
  readonly #batchers = new KeyedBatchers<CompletionItem, CompletedAndTaken>();

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
    return this.#batchers.submit(`${shapeKey(shape)}|${kind}`, { ...item, take }, (items) =>
      completeAndTake(this.#db, shape, kind, items),
    );
  }
}
