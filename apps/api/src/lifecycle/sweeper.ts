import { isDatabaseUnavailable } from "../db/errors.ts";
import { topics, type Watch } from "../events/feed.ts";
import type { JobRow } from "../jobs/model.ts";
import type { Log } from "../log.ts";
import { announce, type LifecycleDeps } from "./service.ts";
import * as sql from "./sql.ts";

/**
 * One pass of the sweeper: run timeouts first (a job that ran too long fails as `timed_out`
 * even if its lease lapsed too), then lapsed leases (re-queued or `lease_lost`), then queue
 * deadlines (`expired`), then lapsed reservations of pending jobs (released, so waiting
 * executors wake). Each step is one conditional UPDATE, safe in every replica at once.
 * Returns the jobs whose status changed.
 */
export async function sweep(deps: LifecycleDeps): Promise<JobRow[]> {
  const changed = [
    ...(await sql.failTimedOut(deps.db)),
    ...(await sql.reclaimLapsedLeases(deps.db)),
    ...(await sql.failExpired(deps.db)),
  ];
  const released = await sql.releaseLapsedReservations(deps.db);
  for (const row of [...changed, ...released]) announce(deps.feed, row);
  return changed;
}

/** Longest timer Node accepts; stands for "until something changes". */
const FOREVER_MS = 2 ** 31 - 1;

/**
 * Runs `sweep` until stopped, never more than `intervalMs` after something fell due (so every
 * deadline is enforced within one interval) and never while nothing can fall due: after each
 * pass it asks for the next lease expiry or deadline and sleeps until then (at most
 * `intervalMs`); with no open deadline at all it sleeps until a job changes. An idle system
 * therefore costs no queries. Passes never overlap; a failed pass is logged and retried after
 * one interval.
 */
export function startSweeper(deps: LifecycleDeps, log: Log, intervalMs: number): () => void {
  const stopped = new AbortController();
  const run = async () => {
    while (!stopped.signal.aborted) {
      let sleepMs = intervalMs;
      let idle: Watch | undefined;
      try {
        const changed = await sweep(deps);
        if (changed.length > 0) {
          log.info(
            {
              jobs: changed.map((row) => ({
                job_id: row.job_id,
                status: row.status,
                attempt: row.attempt,
              })),
            },
            "sweeper changed jobs",
          );
        }
        let due = await sql.nextDeadline(deps.db);
        if (due === null) {
          // None in sight: watch every change, other processes' too (which the database tells
          // only while someone watches: ChangeListeners), then ask again, so that nothing that
          // changed in between goes unheard.
          idle = deps.feed.watch([topics.any, topics.deadlines], stopped.signal);
          await idle.ready;
          due = await sql.nextDeadline(deps.db);
        }
        sleepMs =
          due === null ? FOREVER_MS : Math.max(0, Math.min(due.getTime() - Date.now(), intervalMs));
      } catch (error) {
        if (isDatabaseUnavailable(error))
          log.warn({ err: error }, "sweep skipped: database unavailable");
        else log.error({ err: error }, "sweep failed");
      }
      // Nothing can fall due until a job changes: wait for one.
      if (sleepMs === FOREVER_MS && idle) await idle.next(FOREVER_MS);
      else await sleep(sleepMs, stopped.signal);
      idle?.stop();
    }
  };
  void run();
  return () => stopped.abort();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
