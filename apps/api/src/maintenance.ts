import { isDatabaseUnavailable } from "./db/errors.ts";
import type { Db } from "./db/types.ts";
import { expireOldFiles } from "./files/service.ts";
import { forgetExpiredIdempotencyKeys } from "./jobs/service.ts";
import type { Log } from "./log.ts";
import type { ObjectStore } from "./storage/types.ts";

/**
 * Periodic housekeeping of one API process: forgets expired idempotency keys and, with a
 * retention period, deletes stored files past it. Safe to run in every replica: each step is
 * idempotent. Returns a function that stops it.
 */
export function startMaintenance(
  deps: { db: Db; store: ObjectStore; retentionDays?: number | undefined },
  log: Log,
  intervalMs: number,
): () => void {
  const pass = async () => {
    try {
      const forgotten = await forgetExpiredIdempotencyKeys(deps.db);
      if (forgotten > 0) log.info({ forgotten }, "expired idempotency keys deleted");
      if (deps.retentionDays !== undefined) {
        const expired = await expireOldFiles(deps.db, deps.store, deps.retentionDays);
        if (expired > 0) log.info({ expired }, "files past retention deleted");
      }
    } catch (error) {
      if (isDatabaseUnavailable(error))
        log.warn({ err: error }, "maintenance skipped: database unavailable");
      else log.error({ err: error }, "maintenance failed");
    }
  };
  const timer = setInterval(() => void pass(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
