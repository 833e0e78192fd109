import { EventEmitter } from "node:events";

/** What changed: enough to decide which waiters to wake. */
export interface JobChange {
  jobId: string;
  agentId: string;
  providerAccountId: string;
  status: string;
}

/** Topic a waiter listens on. */
export const topics = {
  job: (jobId: string) => `job:${jobId}`,
  agent: (agentId: string) => `agent:${agentId}`,
  provider: (accountId: string) => `provider:${accountId}`,
};

/**
 * In-process fan-out of job changes to long-polling requests. Changes made by this process are
 * published as they commit; `recheckMs` bounds how long a waiter can miss a change made by
 * another process sharing the database.
 */
export class ChangeFeed {
  readonly #emitter = new EventEmitter();
  readonly #recheckMs: number;
  #closed = false;

  constructor(options: { recheckMs: number }) {
    this.#recheckMs = options.recheckMs;
    this.#emitter.setMaxListeners(0);
  }

  /** Announces a committed change. */
  publish(change: JobChange): void {
    this.#emitter.emit(topics.job(change.jobId), change);
    this.#emitter.emit(topics.agent(change.agentId), change);
    this.#emitter.emit(topics.provider(change.providerAccountId), change);
  }

  /**
   * Resolves when one of the topics is published, the recheck interval or `maxMs` passes,
   * the signal aborts, or the feed closes — whichever comes first. Callers re-read and loop.
   */
  waitForChange(names: string[], maxMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed || signal?.aborted || maxMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const name of names) this.#emitter.off(name, done);
        this.#emitter.off("close", done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(maxMs, this.#recheckMs));
      for (const name of names) this.#emitter.on(name, done);
      this.#emitter.on("close", done);
      signal?.addEventListener("abort", done);
    });
  }

  /** Wakes every waiter; later waits return at once. */
  close(): void {
    this.#closed = true;
    this.#emitter.emit("close");
  }

  get closed(): boolean {
    return this.#closed;
  }
}

/**
 * Re-reads with `read` until `ready` holds, the deadline passes, or the request goes away.
 * Returns the last value read.
 */
export async function waitUntil<T>(options: {
  feed: ChangeFeed;
  topics: string[];
  waitMs: number;
  signal: AbortSignal;
  read: () => Promise<T>;
  ready: (value: T) => boolean;
}): Promise<T> {
  const deadline = Date.now() + options.waitMs;
  let value = await options.read();
  while (!options.ready(value)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || options.signal.aborted || options.feed.closed) break;
    await options.feed.waitForChange(options.topics, remaining, options.signal);
    if (options.signal.aborted) break;
    value = await options.read();
  }
  return value;
}
