import { KeyedBatchers } from "../db/batcher.ts";
import type { Queryable } from "../db/types.ts";
import type { JobRow } from "../jobs/model.ts";
import { shapeKey, type TransitionItem, type TransitionShape, transitionJobs } from "./sql.ts";

/**
 * Transitions outside transactions, batched per shape (`db/batcher.ts`): concurrent accepts,
 * starts, completions… of different jobs go to the database as one statement each.
 */
export class TransitionBatches {
  readonly #db: Queryable;
  readonly #batchers = new KeyedBatchers<TransitionItem, JobRow | undefined>();

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** Applies one job's change with the others of its shape; undefined when nothing matched. */
  apply(shape: TransitionShape, item: TransitionItem): Promise<JobRow | undefined> {
    return this.#batchers.submit(shapeKey(shape), item, (items) =>
      transitionJobs(this.#db, shape, items),
    );
  }
}
