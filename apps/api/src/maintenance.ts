import { vacuumDueTables } from "./db/autovacuum.ts";
import { isDatabaseUnavailable } from "./db/errors.ts";
import type { Db } from "./db/types.ts";
import { expireOldFiles } from "./files/service.ts";
import { forgetExpiredIdempotencyKeys } from "./jobs/service.ts";
import type { Log } from "./log.ts";
import type { ObjectStore } from "./storage/types.ts";

/** Logs a failed pass of periodic work: a warning while the database is unreachable. */
function logFailure(log: Log, what: string, error: unknown): void {
  if (isDatabaseUnavailable(error))
    log.warn({ err: error }, `${what} skipped: database unavailable`);
  else log.error({ err: error }, `${what} failed`);
}

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
      logFailure(log, "maintenance", error);
    }
  };
  const timer = setInterval(() => void pass(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The embedded database's autovacuum (`db/autovacuum.ts`): every `intervalMs`, vacuums and
 * analyzes the tables that are due, as PostgreSQL's background workers do on a server (which
 * PGlite does not run). Returns a function that stops it.
 */
export function startAutovacuum(db: Db, log: Log, intervalMs: number): () => void {
  let running = false;
  const pass = async () => {
    if (running) return;
    running = true;
    try {
      const done = await vacuumDueTables(db);
      if (done.vacuumed.length + done.analyzed.length > 0)
        log.info(done, "embedded database: tables vacuumed");
    } catch (error) {
      logFailure(log, "autovacuum", error);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void pass(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
