import type { NextClaim } from "@agnt/contract";
import type { Db } from "../db/types.ts";
import type { Log } from "../log.ts";
import { TtlMap } from "../ttl-map.ts";
import { ChangeListeners } from "./listeners.ts";

/** What changed: enough to decide which waiters to wake. */
export interface JobChange {
  jobId: string;
  agentId: string;
  providerAccountId: string;
  status: string;
  /** The transaction that made the change, when known: it tells a change's echo from another. */
  xid?: string | null | undefined;
}

/**
 * How a claiming poll takes a pending job (the executor's `claim`): a job ordered while the
 * poll waits can be inserted already so and handed to it (`ChangeFeed.promise`).
 */
export interface Taker {
  /** Accepted (`accept`), or accepted and started (`start`), for the poll's executor. */
  kind: NextClaim;
  leaseSeconds: number;
  /** The executor instance (Agnt-Executor-Id). */
  executorId: string | null;
}

/** A waiting claiming poll promised the job being ordered (`ChangeFeed.promise`). */
export interface Promised {
  taker: Taker;
  /** The job was inserted for it, committed: hands it the job (its row). */
  deliver(job: unknown): void;
  /** It was not (the insert failed, or the agent changed): the poll waits on. */
  release(): void;
}

/**
 * How long a change is remembered to recognise its second hearing (this process's publish and
 * its notification arrive within milliseconds; later, at worst, waiters read once more).
 */
const ECHO_MS = 10_000;
/** At most this many remembered changes (the oldest are forgotten first). */
const ECHO_MAX = 100_000;

/** Topic a waiter listens on. */
export const topics = {
  job: (jobId: string) => `job:${jobId}`,
  agent: (agentId: string) => `agent:${agentId}`,
  provider: (accountId: string) => `provider:${accountId}`,
  /** A job of this agent became pending: new, re-queued, or its reservation released. */
  pendingOfAgent: (agentId: string) => `pending:agent:${agentId}`,
  /** A job of one of this provider's agents became pending. */
  pendingOfProvider: (accountId: string) => `pending:provider:${accountId}`,
  /** Every change of every job (the sweeper re-arms on it). */
  any: "any",
  /** A new deadline exists that changes nothing else (a reservation): the sweeper re-arms. */
  deadlines: "deadlines",
};

/** The topics a job of this agent and provider is on while pending. */
function pendingTopics(job: Pick<JobChange, "agentId" | "providerAccountId">): string[] {
  return [topics.pendingOfAgent(job.agentId), topics.pendingOfProvider(job.providerAccountId)];
}

/**
 * Whether a watch of `topic` needs other processes' changes that are not to pending: those are
 * notified only while some process says it watches (`ChangeListeners`, migration 0011).
 */
function needsEveryChange(topic: string): boolean {
  return !topic.startsWith("pending:") && topic !== topics.deadlines;
}

/**
 * How long a read that found no pending job a holder could take lets the holder's next poll
 * wait without reading first (`ChangeFeed.knownEmpty`). A job that becomes pending is heard
 * and forgets it at once; the bound covers what no notification tells (a reservation that
 * lapsed and was not yet released, a concurrent take that rolled back).
 */
export const KNOWN_EMPTY_MS = 1_000;

/** The channel the jobs triggers (migrations 0009 and 0013) notify on. */
export const JOB_CHANNEL = "agnt_jobs";

/** Where the feed reports trouble with its database subscription. */
export type FeedLog = Pick<Log, "info" | "warn">;

/**
 * One watch's entry in the topics it listens on. A claimer takes work: of the claimers of a
 * pending job's topics only one is woken for it (see `ChangeFeed.publish`).
 */
interface Subscriber {
  wake(): void;
  /** Wakes a claimer chosen to take a pending job. */
  choose(): void;
  readonly claims: boolean;
  /** Order of subscription: the longest-waiting claimer is woken first. */
  readonly seq: number;
  /** Waiting in `next()` (not reading). */
  idle(): boolean;
  /** How it takes jobs, when a job may be handed to it at its order (`ChangeFeed.promise`). */
  readonly taker: Taker | undefined;
  /** Promises it the job being ordered: false when it is not waiting or already promised one. */
  promise(): boolean;
  promised(): boolean;
  deliver(job: unknown): void;
  release(): void;
}

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
  nextSeq(): number;
}

/**
 * Records changes of some topics from the moment it is made, so that a change that arrives
 * while its owner is busy reading is not missed. Made by `ChangeFeed.watch`; `stop()` it.
 */
export class Watch {
  #changed = false;
  #chosen = false;
  /** Promised the job being ordered (`ChangeFeed.promise`), not yet delivered or released. */
  #promised = false;
  /** Its wait ran out while promised: it ends when the promise is released. */
  #late = false;
  /** Jobs handed to it at their order, not yet taken (`takeHanded`). */
  #handed: unknown[] = [];
  #wake: (() => void) | undefined;
  readonly #unsubscribe: () => void;
  readonly #signal: AbortSignal | undefined;
  readonly #feed: FeedState;

  /**
   * Resolves once the changes it records include other processes' (see `ChangeListeners`):
   * read what it watches only after that.
   */
  readonly ready: Promise<void>;

  constructor(
    subscribe: (subscriber: Subscriber) => () => void,
    signal: AbortSignal | undefined,
    feed: FeedState,
    claims: boolean,
    ready: Promise<void> = Promise.resolve(),
    taker?: Taker,
  ) {
    this.ready = ready;
    this.#signal = signal;
    this.#feed = feed;
    const onChange = () => {
      this.#changed = true;
      this.#wake?.();
    };
    const unsubscribe = subscribe({
      wake: onChange,
      choose: () => {
        this.#chosen = true;
        onChange();
      },
      claims,
      seq: feed.nextSeq(),
      idle: () => this.#wake !== undefined,
      taker,
      promise: () => {
        const waiting = this.#wake !== undefined && !this.#changed;
        if (!taker || this.#promised || !waiting || signal?.aborted || feed.closed()) return false;
        this.#promised = true;
        return true;
      },
      promised: () => this.#promised,
      deliver: (job) => {
        this.#promised = false;
        this.#late = false;
        this.#handed.push(job);
        onChange();
      },
      release: () => {
        this.#promised = false;
        if (!this.#late) return;
        this.#late = false;
        this.#wake?.();
      },
    });
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
      // Promised a job when the time is up: it waits for the job (or the promise's release).
      const timer = setTimeout(() => {
        if (this.#promised) this.#late = true;
        else this.#wake?.();
      }, maxMs);
      this.#wake = () => {
        this.#wake = undefined;
        clearTimeout(timer);
        this.#feed.countWaiting(-1);
        resolve(this.#take());
      };
    });
  }

  /** Whether a job is on its way to it (`ChangeFeed.promise`), not yet delivered or released. */
  get promised(): boolean {
    return this.#promised;
  }

  /** The jobs handed to it at their order since the last call (`ChangeFeed.promise`). */
  takeHanded(): unknown[] {
    const handed = this.#handed;
    this.#handed = [];
    return handed;
  }

  /** Whether it was chosen to take a pending job since the last call. */
  takeChosen(): boolean {
    const chosen = this.#chosen;
    this.#chosen = false;
    return chosen;
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
  readonly #topics = new Map<string, Set<Subscriber>>();
  readonly #everyone = new Set<Subscriber>();
  #closed = false;
  #waiting = 0;
  #seq = 0;
  /** Changes heard once, from this process or the database, by `xid/job/status`: time heard. */
  readonly #heard = new Map<string, number>();
  #listening = false;
  #stopListening: (() => Promise<void>) | undefined;
  /** Counts jobs that became pending (any topic): reads of pending jobs take it as a mark. */
  #pendingSeq = 0;
  /** Per pending topic, the count when a job last became pending on it. */
  readonly #lastPending = new Map<string, number>();
  /** Per pending topic and holder, when a read found nothing it could take (`foundNone`). */
  readonly #empty = new TtlMap<string, number>({ ttlMs: KNOWN_EMPTY_MS, maxEntries: 10_000 });
  /** Per holder, the pending topic its last read found nothing on (`knownEmptyTopic`). */
  readonly #emptyTopic = new TtlMap<string, string>({ ttlMs: KNOWN_EMPTY_MS, maxEntries: 10_000 });
  readonly #listeners = new ChangeListeners();
  readonly #state: FeedState = {
    closed: () => this.#closed,
    countWaiting: (delta) => {
      this.#waiting += delta;
    },
    nextSeq: () => ++this.#seq,
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
      onListening: (pid) => this.#listeners.listening(db, pid, log),
      onReconnect: () => {
        log?.info({ channels }, "notifications restored; waking every long-poll");
        for (const other of Object.values(others)) other.onReconnect?.();
        // What reads found is forgotten now; they read again once the row names the new
        // session (or a change after them could go untold).
        this.#forgetEmpty();
        void this.#listeners.settled().then(() => this.wakeAll());
      },
      onError: (error) => log?.warn({ err: error, channels }, "notifications lost; reconnecting"),
    });
    if (this.#closed) await stop();
    else this.#stopListening = stop;
  }

  /**
   * Announces a committed change: wakes every watch of the job, its agent and its provider.
   * A change this process published and then hears from the database (or the other way round,
   * told by its `xid`) is delivered once.
   * When the job became pending, also every plain watch of its pending topics, and one claimer
   * of them — the longest-subscribed idle one, else (all are reading) the longest-subscribed,
   * which then reads once more. Each pending job wakes one executor, not all that wait (no herd).
   */
  publish(change: JobChange): void {
    if (!this.#isEcho(change)) this.#deliver(change);
  }

  #deliver(change: JobChange): void {
    for (const name of [
      topics.job(change.jobId),
      topics.agent(change.agentId),
      topics.provider(change.providerAccountId),
      topics.any,
    ]) {
      this.signal(name);
    }
    if (change.status !== "pending") return;
    const pending = pendingTopics(change);
    for (const name of pending) this.signal(name);
    this.#handOut(pending);
  }

  /**
   * Hands a pending job on to another claiming poll of `names`: the poll chosen for it left
   * without reading after that.
   */
  passClaim(names: string[]): void {
    this.#handOut(names);
  }

  /**
   * Chooses one claiming poll of `names` for a pending job. A job handed to a poll is that
   * poll's to take; one no poll was there for is news to every executor that found nothing
   * before (`knownEmpty`).
   */
  #handOut(names: string[]): void {
    this.#pendingSeq += 1;
    if (this.#claimOne(names)) return;
    if (this.#lastPending.size >= 10_000) this.#forgetEmpty();
    for (const name of names) this.#lastPending.set(name, this.#pendingSeq);
  }

  /**
   * A mark to take just before reading a pending topic, for `foundNone`: whatever becomes
   * pending after it is heard after it.
   */
  pendingMark(): number {
    return this.#pendingSeq;
  }

  /**
   * A read of pending `topic` that started at `mark` found nothing `holder` could take. If every
   * job that became pending on the topic since was handed to a claiming poll (which takes it),
   * the holder's next poll within KNOWN_EMPTY_MS may wait without reading first (`knownEmpty`).
   * Only while listening: changes made by other processes are heard only then.
   */
  foundNone(topic: string, holder: string, mark: number): void {
    if (!this.#listening || this.#closed) return;
    if ((this.#lastPending.get(topic) ?? 0) > mark) return;
    this.#empty.set(`${topic}|${holder}`, mark);
    this.#emptyTopic.set(holder, topic);
  }

  /**
   * The pending topic the holder's last read found nothing on, while that still holds
   * (`knownEmpty`): a completion of a job on it need not look for the next one.
   */
  knownEmptyTopic(holder: string): string | undefined {
    const topic = this.#emptyTopic.get(holder);
    return topic !== undefined && this.knownEmpty(topic, holder) ? topic : undefined;
  }

  /** True when a recent read found nothing `holder` could take on `topic` (see `foundNone`). */
  knownEmpty(topic: string, holder: string): boolean {
    const mark = this.#empty.get(`${topic}|${holder}`);
    return mark !== undefined && (this.#lastPending.get(topic) ?? 0) <= mark;
  }

  #forgetEmpty(): void {
    this.#empty.clear();
    this.#emptyTopic.clear();
    this.#lastPending.clear();
  }

  /** Wakes the plain watches of one topic (for `topics.deadlines`: no job changed). */
  signal(name: string): void {
    const subscribers = this.#topics.get(name);
    if (!subscribers) return;
    for (const subscriber of [...subscribers]) if (!subscriber.claims) subscriber.wake();
  }

  /** Wakes every watch; each reads again. What reads found is forgotten (changes were missed). */
  wakeAll(): void {
    this.#forgetEmpty();
    for (const subscriber of [...this.#everyone]) subscriber.wake();
  }

  /**
   * Starts recording changes of `names` (see `Watch`). A claiming watch (`claims`, for pending
   * topics only) is woken by a pending job only when it is the one chosen to take it.
   */
  watch(
    names: string[],
    signal?: AbortSignal,
    options: { claims?: boolean; taker?: Taker } = {},
  ): Watch {
    const listeners = names.some(needsEveryChange) ? this.#listeners : undefined;
    const subscribe = (subscriber: Subscriber) => {
      this.#everyone.add(subscriber);
      for (const name of names) {
        const subscribers = this.#topics.get(name) ?? new Set<Subscriber>();
        subscribers.add(subscriber);
        this.#topics.set(name, subscribers);
      }
      let subscribed = true;
      return () => {
        if (!subscribed) return;
        subscribed = false;
        this.#everyone.delete(subscriber);
        for (const name of names) {
          const subscribers = this.#topics.get(name);
          subscribers?.delete(subscriber);
          if (subscribers?.size === 0) this.#topics.delete(name);
        }
        listeners?.remove();
      };
    };
    const ready = listeners?.add();
    const claims = options.claims ?? false;
    return new Watch(
      subscribe,
      signal,
      this.#state,
      claims,
      ready,
      claims ? options.taker : undefined,
    );
  }

  /**
   * Promises the job about to be ordered for `job`'s agent to the claiming poll of its pending
   * topics that has waited longest, if one waits and may be handed a job (it has a `taker`):
   * the order inserts the job as that poll takes jobs and then `deliver`s it, so no take and
   * no wake-up is needed. Until delivered or released, the poll waits on, even past its time,
   * and is not chosen for other jobs. Undefined when no such poll waits.
   */
  promise(job: Pick<JobChange, "agentId" | "providerAccountId">): Promised | undefined {
    const chosen = this.#longest(
      pendingTopics(job),
      (subscriber) => subscriber.taker !== undefined && !subscriber.promised() && subscriber.idle(),
    );
    if (!chosen?.taker || !chosen.promise()) return undefined;
    return {
      taker: chosen.taker,
      deliver: (row) => chosen.deliver(row),
      release: () => chosen.release(),
    };
  }

  /**
   * Wakes one claimer of `names`: the longest-subscribed idle one, else the longest-subscribed.
   * False when there is none.
   */
  #claimOne(names: string[]): boolean {
    // A promised claimer has its job coming: it takes no other meanwhile.
    const claimer = (subscriber: Subscriber) => subscriber.claims && !subscriber.promised();
    const chosen =
      this.#longest(names, (subscriber) => claimer(subscriber) && subscriber.idle()) ??
      this.#longest(names, claimer);
    chosen?.choose();
    return chosen !== undefined;
  }

  /** Of the subscribers of `names` that `fits`, the longest-subscribed. */
  #longest(names: string[], fits: (subscriber: Subscriber) => boolean): Subscriber | undefined {
    let longest: Subscriber | undefined;
    for (const name of names) {
      // Sets keep insertion order: the first that fits in a topic is its longest-subscribed.
      for (const subscriber of this.#topics.get(name) ?? []) {
        if (!fits(subscriber)) continue;
        if (!longest || subscriber.seq < longest.seq) longest = subscriber;
        break;
      }
    }
    return longest;
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
    // Out of change_listeners while the database is still there (a row left behind only costs
    // notifications until another process's registration removes it).
    await Promise.race([
      this.#listeners.close(),
      new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
    ]);
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

  /** True when `change` was heard before (its second hearing); remembers it otherwise. */
  #isEcho(change: JobChange): boolean {
    // Without notifications, or without a transaction id to tell changes apart, no echo comes.
    if (!change.xid || !this.#listening) return false;
    const key = `${change.xid}/${change.jobId}/${change.status}`;
    if (this.#heard.delete(key)) return true;
    const now = Date.now();
    for (const [oldKey, at] of this.#heard) {
      if (now - at < ECHO_MS && this.#heard.size < ECHO_MAX) break;
      this.#heard.delete(oldKey);
    }
    this.#heard.set(key, now);
    return false;
  }
}

function parseChange(payload: string): JobChange | undefined {
  try {
    const value: unknown = JSON.parse(payload);
    if (typeof value !== "object" || value === null) return undefined;
    const { job_id, agent_id, provider_account_id, status, xid } = value as Record<string, unknown>;
    if (
      typeof job_id !== "string" ||
      typeof agent_id !== "string" ||
      typeof provider_account_id !== "string" ||
      typeof status !== "string"
    ) {
      return undefined;
    }
    return {
      jobId: job_id,
      agentId: agent_id,
      providerAccountId: provider_account_id,
      status,
      xid: typeof xid === "string" ? xid : undefined,
    };
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
  /** Claim pending jobs: wake only when chosen to take one (`ChangeFeed.publish`). */
  claims?: boolean;
  /**
   * A claiming wait that may be handed jobs at their order (`ChangeFeed.promise`): how it
   * takes them, and what it returns when handed some (instead of reading).
   */
  handOff?: { taker: Taker; handed: (jobs: unknown[]) => T };
  waitMs: number;
  signal: AbortSignal;
  read: () => Promise<T>;
  ready: (value: T) => boolean;
}): Promise<T> {
  const { feed, signal } = options;
  if (options.waitMs <= 0 || feed.closed || signal.aborted) return options.read();
  const deadline = Date.now() + options.waitMs;
  const watch = feed.watch(options.topics, signal, {
    claims: options.claims ?? false,
    taker: options.handOff?.taker,
  });
  try {
    await watch.ready;
    let value = await options.read();
    while (!options.ready(value)) {
      const remaining = deadline - Date.now();
      if (signal.aborted || feed.closed) break;
      // A job promised to it is on its way: it waits for that, past its time if need be.
      if (remaining <= 0 && !watch.promised) break;
      const changed = await watch.next(Math.max(remaining, 1));
      const handed = watch.takeHanded();
      if (handed.length > 0 && options.handOff) return options.handOff.handed(handed);
      if (!changed || signal.aborted || feed.closed) break;
      if (watch.promised) continue; // woken meanwhile (say, every waiter on a reconnection)
      watch.takeChosen(); // the read below takes what it was chosen for
      value = await options.read();
    }
    return value;
  } finally {
    watch.stop();
    // Chosen to take a pending job, but leaving without a read after that (gone, out of time,
    // done with what an earlier read found, or failed): another claiming poll takes it.
    if (watch.takeChosen() && !feed.closed) feed.passClaim(options.topics);
  }
}
