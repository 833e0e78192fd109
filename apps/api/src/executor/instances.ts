import type { ExecutorHeaders } from "@agnt/contract";
import type { Queryable } from "../db/types.ts";
import { upsertExecutorInstance } from "./sql.ts";

/** How often one process writes an instance's last_seen_at at most (one upsert per window). */
const WRITE_EVERY_MS = 15_000;

/**
 * Records executor instances (`Agnt-Executor-Id`) with their provider, agent, version and
 * last call, for `executors_online`. Writes are throttled per instance, so a busy executor
 * costs one upsert per 15 seconds, not one per call.
 */
export class ExecutorInstances {
  readonly #lastWrite = new Map<string, number>();
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** Notes that an executor called; resolves once recorded (or skipped as recent). */
  async seen(
    providerAccountId: string,
    headers: ExecutorHeaders,
    agentId: string | undefined,
  ): Promise<void> {
    const executorId = headers["agnt-executor-id"];
    if (!executorId) return;
    const key = `${providerAccountId}/${executorId}/${agentId ?? ""}`;
    const now = Date.now();
    if (now - (this.#lastWrite.get(key) ?? 0) < WRITE_EVERY_MS) return;
    this.#lastWrite.set(key, now);
    if (this.#lastWrite.size > 10_000) this.#lastWrite.clear();
    await upsertExecutorInstance(this.#db, {
      providerAccountId,
      executorId,
      agentId,
      version: headers["agnt-executor-version"],
    });
  }
}
