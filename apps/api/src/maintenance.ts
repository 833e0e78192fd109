import type { FastifyBaseLogger } from "fastify";
import type { Db } from "./db/types.ts";
import { isDatabaseUnavailable } from "./http/error-handler.ts";
import { forgetExpiredIdempotencyKeys } from "./jobs/service.ts";

/**
 * Periodic housekeeping of one API process: forgets expired idempotency keys. Safe to run in
 * every replica (each pass is one idempotent DELETE). Returns a function that stops it.
 */
export function startMaintenance(db: Db, log: FastifyBaseLogger, intervalMs: number): () => void {
  const pass = async () => {
    try {
      const forgotten = await forgetExpiredIdempotencyKeys(db);
      if (forgotten > 0) log.info({ forgotten }, "expired idempotency keys deleted");
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
