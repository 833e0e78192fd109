import type { Db } from "../db/types.ts";
import type { Log } from "../log.ts";
import * as sql from "./sql.ts";

/** How long the row stays once the last watcher left: back-to-back long-polls keep it. */
export const LINGER_MS = 2_000;
/** Attempts at the watch lock before giving up (each waits at most 50 ms, then a pause). */
const ATTEMPTS = 100;

/**
 * This process's row in `change_listeners` (migration 0011): while it is there, the database
 * notifies every change of every job; otherwise only changes to pending. It is there while
 * some watcher here needs the other changes of other processes — a job's event stream or
 * long-poll, an executor waiting on jobs that are not pending, the sweeper with no deadline in
 * sight — and for LINGER_MS after the last one left. Changes made here are published here
 * whatever the row says.
 */
export class ChangeListeners {
  #db: Db | undefined;
  #pid: number | undefined;
  /** The pid whose row this process put in and has not taken out. */
  #inserted: number | undefined;
  #watchers = 0;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  /** Insertions and removals, one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  #log: Pick<Log, "warn"> | undefined;

  /** The process listens through backend `pid` of `db` (again, after a reconnection). */
  listening(db: Db, pid: number, log?: Pick<Log, "warn">): void {
    this.#db = db;
    this.#log = log;
    if (this.#pid === pid) return;
    this.#pid = pid;
    void this.#sync();
  }

  /**
   * One more watcher needs every change told. Resolves once they are (or at once when nothing
   * listens; when the database fails, after logging it: the watcher then hears its own
   * process's changes and pending ones).
   */
  add(): Promise<void> {
    this.#watchers += 1;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#sync();
  }

  /** A watcher left. */
  remove(): void {
    this.#watchers -= 1;
    if (this.#watchers > 0 || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#sync();
    }, LINGER_MS);
    this.#timer.unref();
  }

  /** Takes the row out (shutdown). */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    return this.#sync();
  }

  /** Resolves once the insertions and removals asked for so far are done. */
  settled(): Promise<void> {
    return this.#queue;
  }

  #sync(): Promise<void> {
    this.#queue = this.#queue.then(() =>
      this.#apply().catch((error: unknown) => {
        this.#log?.warn({ err: error }, "could not update change_listeners");
      }),
    );
    return this.#queue;
  }

  async #apply(): Promise<void> {
    const db = this.#db;
    if (!db) return;
    const wanted = this.#watchers > 0 && !this.#closed ? this.#pid : undefined;
    if (wanted === this.#inserted) return;
    if (this.#inserted !== undefined) {
      await sql.removeListener(db, this.#inserted);
      this.#inserted = undefined;
    }
    if (wanted === undefined) return;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      if (await sql.addListener(db, wanted)) {
        this.#inserted = wanted;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
    throw new Error(`the watch lock stayed taken through ${ATTEMPTS} attempts`);
  }
}
