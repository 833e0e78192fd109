import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const LOCK_FILE = "server.pid";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid of a live server holding the embedded database, if any. */
export function lockHolder(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, LOCK_FILE), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)
      ? pid
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Only one process may open the embedded database at a time. Throws when a live server holds
 * it; otherwise takes it (with `hold`) or just checks (without).
 */
export function claimEmbeddedDatabase(dataDir: string, hold: boolean): () => void {
  const holder = lockHolder(dataDir);
  if (holder !== undefined) {
    throw new Error(
      `The embedded database in ${dataDir} is in use by agnt-server (pid ${holder}). Stop the server first, or use DATABASE_URL.`,
    );
  }
  if (!hold) return () => undefined;
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, LOCK_FILE);
  writeFileSync(file, `${process.pid}\n`);
  return () => rmSync(file, { force: true });
}
