import type { Db } from "../db/types.ts";

/**
 * The advisory lock of `change_listeners` (migration 0011's `watched()`): every change that
 * checks for listeners holds it shared until it commits; a registration holds it exclusively.
 */
export const WATCH_LOCK = 74010011;

/** SQLSTATE lock_not_available: `lock_timeout` ran out. */
const LOCK_NOT_AVAILABLE = "55P03";

/**
 * Puts this process's row (the backend pid of its LISTEN session) into `change_listeners`, and
 * removes rows whose backend is gone. Resolves once every change that did not see the row has
 * committed: from then on every change of a job is notified. False when the lock stayed taken
 * for `lock_timeout` (changes queue behind a waiting exclusive lock, so it waits only briefly):
 * try again.
 */
export async function addListener(db: Db, pid: number): Promise<boolean> {
  try {
    await db.transaction(async (tx) => {
      await tx.query("SET LOCAL lock_timeout = '50ms'");
      await tx.query("SELECT pg_advisory_xact_lock($1)", [WATCH_LOCK]);
      await tx.query(
        `DELETE FROM change_listeners
         WHERE listener_pid <> $1 AND listener_pid NOT IN (SELECT pid FROM pg_stat_activity)`,
        [pid],
      );
      await tx.query(
        "INSERT INTO change_listeners (listener_pid) VALUES ($1) ON CONFLICT DO NOTHING",
        [pid],
      );
    });
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === LOCK_NOT_AVAILABLE) return false;
    throw error;
  }
}

/** Takes the row of backend `pid` out of `change_listeners`. */
export async function removeListener(db: Db, pid: number): Promise<void> {
  await db.query("DELETE FROM change_listeners WHERE listener_pid = $1", [pid]);
}
