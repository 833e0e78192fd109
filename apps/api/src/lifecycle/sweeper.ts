import type { FastifyBaseLogger } from "fastify";
import { isDatabaseUnavailable } from "../http/error-handler.ts";
import type { JobRow } from "../jobs/model.ts";
import { announce, type LifecycleDeps } from "./service.ts";
import * as sql from "./sql.ts";

/**
 * One pass of the sweeper: run timeouts first (a job that ran too long fails as `timed_out`
 * even if its lease lapsed too), then lapsed leases (re-queued or `lease_lost`), then queue
 * deadlines (`expired`). Each step is one conditional UPDATE, safe in every replica at once.
 */
export async function sweep(deps: LifecycleDeps): Promise<JobRow[]> {
  const changed = [
    ...(await sql.failTimedOut(deps.db)),
    ...(await sql.reclaimLapsedLeases(deps.db)),
    ...(await sql.failExpired(deps.db)),
  ];
  for (const row of changed) announce(deps.feed, row);
  return changed;
}

/**
 * Runs `sweep` every `intervalMs` (fractions of a second allowed) until stopped. A pass that
 * fails is logged and the next one runs as planned; passes never overlap.
 */
export function startSweeper(
  deps: LifecycleDeps,
  log: FastifyBaseLogger,
  intervalMs: number,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const pass = async () => {
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
    } catch (error) {
      if (isDatabaseUnavailable(error))
        log.warn({ err: error }, "sweep skipped: database unavailable");
      else log.error({ err: error }, "sweep failed");
    }
    if (!stopped) schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => void pass(), intervalMs);
    timer.unref();
  };
  schedule();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
