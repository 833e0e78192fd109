export interface BatcherOptions {
  /** Items in one batch at most. */
  maxBatch?: number;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs the statements of many concurrent callers as one (group commit in the API): a caller
 * alone runs at once, in a batch of one; callers that come while a batch runs wait for it and
 * then go together in the next. Under load, N callers cost one statement and one commit
 * instead of N; without load nothing waits. `run` gets the items and answers one result per
 * item, in order. When a batch fails, each of its items is run again alone, so that a failure
 * (a deadlock, one bad row) reaches only the callers it concerns.
 */
export class Batcher<I, O> {
  readonly #run: (items: I[]) => Promise<O[]>;
  readonly #maxBatch: number;
  #queue: Waiting<I, O>[] = [];
  #running = false;

  constructor(run: (items: I[]) => Promise<O[]>, options: BatcherOptions = {}) {
    this.#run = run;
    this.#maxBatch = options.maxBatch ?? 100;
  }

  /** Runs `item` with whatever else is waiting; resolves with its own result. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#next();
    });
  }

  #next(): void {
    if (this.#running || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#running = true;
    void this.#execute(batch).finally(() => {
      this.#running = false;
      this.#next();
    });
  }

  async #execute(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const results = await this.#run(batch.map((waiting) => waiting.item));
      for (const [i, waiting] of batch.entries()) waiting.resolve(results[i] as O);
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      for (const waiting of batch) {
        try {
          waiting.resolve((await this.#run([waiting.item]))[0] as O);
        } catch (alone) {
          waiting.reject(alone);
        }
      }
    }
  }
}

/** Batchers by key (one per statement shape), each made on first use. */
export class KeyedBatchers<I, O> {
  readonly #batchers = new Map<string, Batcher<I, O>>();

  /** Runs `item` with the others of `key`; `run` runs a batch of them (the first call's). */
  submit(key: string, item: I, run: (items: I[]) => Promise<O[]>): Promise<O> {
    let batcher = this.#batchers.get(key);
    if (!batcher) {
      batcher = new Batcher(run);
      this.#batchers.set(key, batcher);
    }
    return batcher.submit(item);
  }
}

/**
 * The `FROM` source of a statement that writes a batch of rows, with its parameters from
 * `first` on: `columns` are `[name, type, pick]`. One row: `(SELECT $n::type AS name, …) AS v`.
 * Several: `unnest($n::type[], …) AS v(name, …)`, each array padded with NULL rows (which match
 * nothing) to a multiple of 10. Both forms get a plan that PostgreSQL prepares once: a
 * generic plan assumes 10 array elements, and is kept only if it costs about what a custom
 * plan does, so arrays must look like 10 elements; a lone row must not pay for 10.
 */
export function batchSource<T>(
  items: readonly T[],
  first: number,
  columns: readonly (readonly [
    name: string,
    type: string,
    pick: (item: T, index: number) => unknown,
  ])[],
): { sql: string; values: unknown[] } {
  const param = (i: number) => `$${first + i}`;
  if (items.length === 1) {
    const item = items[0] as T;
    return {
      sql: `(SELECT ${columns.map(([name, type], i) => `${param(i)}::${type} AS ${name}`).join(", ")}) AS v`,
      values: columns.map(([, , pick]) => pick(item, 0) ?? null),
    };
  }
  const size = Math.max(10, Math.ceil(items.length / 10) * 10);
  return {
    sql: `unnest(${columns.map(([, type], i) => `${param(i)}::${type}[]`).join(", ")}) AS v(${columns
      .map(([name]) => name)
      .join(", ")})`,
    values: columns.map(([, , pick]) => {
      const values = items.map((item, index) => pick(item, index) ?? null);
      while (values.length < size) values.push(null);
      return values;
    }),
  };
}
