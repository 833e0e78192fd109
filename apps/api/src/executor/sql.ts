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
  );
}
