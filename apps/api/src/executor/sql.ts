import type { JobStatus } from "@agnt/contract";
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
     WHERE provider_account_id = $1 ${agentClause} AND status = '${filter.status}'
     ORDER BY created_at, job_id
     LIMIT $2`,
    params,
  );
  return rows;
}
