import type { JobStatus } from "@agnt/contract";
import { lit } from "../db/sql-literals.ts";
import type { Queryable } from "../db/types.ts";
import { JOB_COLUMNS, type JobRow } from "../jobs/model.ts";

export interface ProviderJobFilter {
  providerAccountId: string;
  agentId?: string | undefined;
  status: JobStatus;
  limit: number;
}

export interface Reservation {
  /** Who holds it: `exec:<executor id>` (its next poll gets the jobs again) or `poll:<uuid>`. */
  holder: string;
  seconds: number;
}

/**
 * Reserves up to `limit` of the provider's pending jobs for `holder`, oldest first: jobs no one
 * holds, whose reservation lapsed, or that `holder` holds already (renewed). Rows another poll
 * is reserving at this moment are skipped (`FOR UPDATE SKIP LOCKED`), so concurrent polls are
 * never handed the same job and never wait for each other.
 */
export async function reservePendingJobs(
  db: Queryable,
  filter: Omit<ProviderJobFilter, "status">,
  reservation: Reservation,
): Promise<{ rows: JobRow[]; reservedUntil: Date | null }> {
  const params: unknown[] = [filter.providerAccountId, filter.limit, reservation.holder];
  let agentClause = "";
  if (filter.agentId) {
    params.push(filter.agentId);
    agentClause = `AND agent_id = $${params.length}`;
  }
  params.push(reservation.seconds);
  const { rows } = await db.query<JobRow & { reserved_until: Date }>(
    `WITH picked AS (
       SELECT job_id FROM jobs
       WHERE provider_account_id = $1 ${agentClause} AND status = ${lit("pending" satisfies JobStatus)}
         AND (reserved_until IS NULL OR reserved_until <= now() OR reserved_by = $3)
       ORDER BY created_at, job_id
       LIMIT $2
       FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs
     SET reserved_until = now() + make_interval(secs => $${params.length}::float8), reserved_by = $3
     WHERE job_id IN (SELECT job_id FROM picked)
     RETURNING ${JOB_COLUMNS}, reserved_until`,
    params,
    { prepare: true },
  );
  rows.sort(
    (a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.job_id < b.job_id ? -1 : 1),
  );
  return { rows, reservedUntil: rows[0]?.reserved_until ?? null };
}

/**
 * The provider's jobs in one status, oldest first. The status is a closed-set literal in the
 * SQL so the planner can use the partial index of pending jobs.
 */
export async function listProviderJobs(
  db: Queryable,
  filter: ProviderJobFilter,
): Promise<JobRow[]> {
  const params: unknown[] = [filter.providerAccountId, filter.limit];
  let agentClause = "";
  if (filter.agentId) {
    params.push(filter.agentId);
    agentClause = `AND agent_id = $${params.length}`;
  }
  const { rows } = await db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs
     WHERE provider_account_id = $1 ${agentClause} AND status = ${lit(filter.status)}
     ORDER BY created_at, job_id
     LIMIT $2`,
    params,
    { prepare: true },
  );
  return rows;
}

/** Records that an executor instance called: its provider, agent and version, seen now. */
export async function upsertExecutorInstance(
  db: Queryable,
  instance: {
    providerAccountId: string;
    executorId: string;
    agentId?: string | undefined;
    version?: string | undefined;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO executor_instances (provider_account_id, executor_id, agent_id, version)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (provider_account_id, executor_id) DO UPDATE
       SET agent_id = COALESCE(EXCLUDED.agent_id, executor_instances.agent_id),
           version = COALESCE(EXCLUDED.version, executor_instances.version),
           last_seen_at = now()`,
    [
      instance.providerAccountId,
      instance.executorId,
      instance.agentId ?? null,
      instance.version ?? null,
    ],
    { prepare: true },
  );
}
