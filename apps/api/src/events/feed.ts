import type { Db } from "../db/types.ts";

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
  /** Every change of every job (the sweeper re-arms on it). */
  any: "any",
  /** A new deadline exists that changes nothing else (a reservation): the sweeper re-arms. */
  deadlines: "deadlines",
};

/** The channel the `jobs_notify` trigger (migration 0003) notifies on. */
export const JOB_CHANNEL = "agnt_jobs";

/** Where the feed reports trouble with its database subscription (a pino logger fits). */
export interface FeedLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

type Listener = () => void;

/** Another channel the process listens on through the feed's connection. */
export interface ChannelListener {
  onNotify(payload: string): void;
  /** The connection was lost and is back: notifications in between are gone. */
  onReconnect?(): void;
}

/** What a watch needs to know of its feed. */
interface FeedState {
  closed(): boolean;
  countWaiting(delta: number): void;
}

/**
 * Records changes of some topics from the moment it is made, so that a change that arrives
 * while its owner is busy reading is not missed. Made by `ChangeFeed.watch`; `stop()` it.
 */
export class Watch {
  #changed = false;
  #wake: (() => void) | undefined;
  readonly #unsubscribe: () => void;
  readonly #signal: AbortSignal | undefined;
  readonly #feed: FeedState;

  constructor(
    subscribe: (listener: Listener) => () => void,
    signal: AbortSignal | undefined,
    feed: FeedState,
  ) {
    this.#signal = signal;
    this.#feed = feed;
    const onChange = () => {
      this.#changed = true;
      this.#wake?.();
    };
    const unsubscribe = subscribe(onChange);
    signal?.addEventListener("abort", onChange);
    this.#unsubscribe = () => {
      unsubscribe();
      signal?.removeEventListener("abort", onChange);
    };
  }

  /**
   * Resolves `true` as soon as a change was recorded since the last call (at once if one
   * already was), `false` after `maxMs` without one. Also resolves (at once, if already so)
   * when the signal aborts or the feed closes: callers check those first.
   */
  next(maxMs: number): Promise<boolean> {
    const over = maxMs <= 0 || this.#feed.closed() || this.#signal?.aborted;
    if (this.#changed || over || this.#wake) return Promise.resolve(this.#take());
    return new Promise((resolve) => {
      this.#feed.countWaiting(1);
      const timer = setTimeout(() => this.#wake?.(), maxMs);
      this.#wake = () => {
        this.#wake = undefined;
        clearTimeout(timer);
        this.#feed.countWaiting(-1);
        resolve(this.#take());
      };
    });
  }

  /** Stops recording; a pending `next` resolves. */
  stop(): void {
    this.#unsubscribe();
    this.#wake?.();
  }

  #take(): boolean {
    const changed = this.#changed;
    this.#changed = false;
    return changed;
  }
}

/**
 * Fan-out of job changes to the long-polling requests of this process. Fed from two sides:
 * `publish`, called by this process's services once a change commits (waiters wake at once),
 * and, after `listen(db)`, the database's `agnt_jobs` notifications, which carry every
 * process's changes (this process's too: a waiter may then read once more than needed).
 * Waiting costs the database nothing: no timer reads while nothing happens.
 */
export class ChangeFeed {
  // Sets, not an EventEmitter: adding and removing one of thousands of waiters stays O(1).
  readonly #topics = new Map<string, Set<Listener>>();
  readonly #everyone = new Set<Listener>();
  #closed = false;
  #waiting = 0;
  #listening = false;
  #stopListening: (() => Promise<void>) | undefined;
  readonly #state: FeedState = {
    closed: () => this.#closed,
    countWaiting: (delta) => {
      this.#waiting += delta;
    },
  };

  /**
   * Subscribes to the database's job notifications (one LISTEN connection on PostgreSQL,
   * re-established when lost; when it is, every waiter is woken once to read again, since
   * notifications sent in between are gone) and, on the same connection, to `others`
   * (e.g. key revocations). Resolves after the first attempt to listen, even if the database
   * is unreachable. Once per feed; stopped by `close()`.
   */
  async listen(db: Db, log?: FeedLog, others: Record<string, ChannelListener> = {}): Promise<void> {
    if (this.#listening || this.#closed) return;
    this.#listening = true;
    const channels = [JOB_CHANNEL, ...Object.keys(others)];
    const stop = await db.listen(channels, {
      onNotify: (payload, channel) => {
        if (channel === JOB_CHANNEL) this.#notified(payload);
        else others[channel]?.onNotify(payload);
      },
      onReconnect: () => {
        log?.info({ channels }, "notifications restored; waking every long-poll");
        for (const other of Object.values(others)) other.onReconnect?.();
        this.wakeAll();
      },
      onError: (error) => log?.warn({ err: error, channels }, "notifications lost; reconnecting"),
    });
    if (this.#closed) await stop();
    else this.#stopListening = stop;
  }

  /** Announces a committed change. */
  publish(change: JobChange): void {
    const names = [
      topics.job(change.jobId),
      topics.agent(change.agentId),
      topics.provider(change.providerAccountId),
      topics.any,
    ];
    for (const name of names) {
      const listeners = this.#topics.get(name);
      if (listeners) for (const listener of [...listeners]) listener();
    }
  }

  /** Wakes the waiters of one topic only (no job changed: `topics.deadlines`). */
  signal(name: string): void {
    const listeners = this.#topics.get(name);
    if (listeners) for (const listener of [...listeners]) listener();
  }

  /** Wakes every waiter; each reads again. */
  wakeAll(): void {
    for (const listener of [...this.#everyone]) listener();
  }

  /** Starts recording changes of `names` (see `Watch`). */
  watch(names: string[], signal?: AbortSignal): Watch {
    const subscribe = (listener: Listener) => {
      this.#everyone.add(listener);
      for (const name of names) {
        const listeners = this.#topics.get(name) ?? new Set<Listener>();
        listeners.add(listener);
        this.#topics.set(name, listeners);
      }
      return () => {
        this.#everyone.delete(listener);
        for (const name of names) {
          const listeners = this.#topics.get(name);
          listeners?.delete(listener);
          if (listeners?.size === 0) this.#topics.delete(name);
        }
      };
    };
    return new Watch(subscribe, signal, this.#state);
  }

  /** How many requests are waiting right now. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Wakes every waiter and stops listening; later waits return at once. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.wakeAll();
    }
    const stop = this.#stopListening;
    this.#stopListening = undefined;
    await stop?.();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #notified(payload: string): void {
    const change = parseChange(payload);
    // A notification we cannot read still means something changed: wake everyone.
    if (change) this.publish(change);
    else this.wakeAll();
  }
}

function parseChange(payload: string): JobChange | undefined {
  try {
    const value: unknown = JSON.parse(payload);
    if (typeof value !== "object" || value === null) return undefined;
    const { job_id, agent_id, provider_account_id, status } = value as Record<string, unknown>;
    if (
      typeof job_id !== "string" ||
      typeof agent_id !== "string" ||
      typeof provider_account_id !== "string" ||
      typeof status !== "string"
    ) {
      return undefined;
    }
    return { jobId: job_id, agentId: agent_id, providerAccountId: provider_account_id, status };
  } catch {
    return undefined;
  }
}

/**
 * Reads with `read` until `ready` holds, the deadline passes, or the request goes away, and
 * returns the last value read. It reads again only when one of the topics changed (or every
 * waiter was woken): it watches before the first read, so a change that commits while a read
 * runs is not missed, and it does not read again when the time is up, since nothing changed.
 */
export async function waitUntil<T>(options: {
  feed: ChangeFeed;
  topics: string[];
  waitMs: number;
  signal: AbortSignal;
  read: () => Promise<T>;
  ready: (value: T) => boolean;
}): Promise<T> {
  const { feed, signal } = options;
  if (options.waitMs <= 0 || feed.closed || signal.aborted) return options.read();
  const deadline = Date.now() + options.waitMs;
  const watch = feed.watch(options.topics, signal);
  try {
    let value = await options.read();
    while (!options.ready(value)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.aborted || feed.closed) break;
      const changed = await watch.next(remaining);
      if (!changed || signal.aborted || feed.closed) break;
      value = await options.read();
    }
    return value;
  } finally {
    watch.stop();
  }
}
