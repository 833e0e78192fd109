import type { Actor, JobStatus } from "@agnt/contract";
import { lit } from "../db/sql-literals.ts";
import type { Queryable } from "../db/types.ts";
import { JOB_COLUMNS, type JobRow } from "../jobs/model.ts";
import { acceptedSets } from "../lifecycle/sql.ts";

export interface ProviderJobFilter {
  providerAccountId: string;
  agentId?: string | undefined;
  status: JobStatus;
  limit: number;
}

/** What a poll does with the pending jobs it hands out (see the contract's `claim`). */
export type Take =
  | {
      kind: "reserve";
      /** Who holds it: `exec:<executor id>` (its next poll gets the jobs again) or `poll:<uuid>`. */
      holder: string;
      seconds: number;
    }
  | {
      /** Accept them (`accept`), or accept and start them (`start`), for the polling executor. */
      kind: "accept" | "start";
      /** Whose reservations it may take over: its own (`exec:<executor id>`). */
      holder: string;
      leaseSeconds: number;
      /** The executor instance taking them (Agnt-Executor-Id). */
      executorId: string | null;
    };

/** The SET clause (with its FROM) of a take's UPDATE. */
function takeSets(take: Take, seconds: string, executor: string): string {
  if (take.kind === "reserve") {
    return `reserved_until = now() + make_interval(secs => ${seconds}), reserved_by = $3`;
  }
  const started = take.kind === "start";
  const status: JobStatus = started ? "running" : "accepted";
  return `status = ${lit(status)}, ${acceptedSets(started ? "now()" : "NULL")},
         updated_at = now(), changed_by = ${lit("executor" satisfies Actor)}, changed_by_account_id = $1
     FROM (SELECT ${seconds} AS v_lease_secs, ${executor} AS v_executor) v`;
}

/**
 * Takes up to `limit` of the provider's pending jobs for one poll, oldest first: jobs no one
 * holds, whose reservation lapsed, or that the poll's `holder` holds already. A reservation
 * holds them for the holder (renewed when held already); an accept or start moves them along
 * the lifecycle as the executor's own status calls would (the jobs_changed trigger records a
 * start as accepted, then running). Rows another poll is taking at this moment are skipped
 * (`FOR UPDATE SKIP LOCKED`), so concurrent polls are never handed the same job and never
 * wait for each other. Returns the jobs, oldest first, and until when reserved ones are held.
 */
export async function takePendingJobs(
  db: Queryable,
  filter: Omit<ProviderJobFilter, "status">,
  take: Take,
): Promise<{ rows: JobRow[]; reservedUntil: Date | null }> {
  const params: unknown[] = [filter.providerAccountId, filter.limit, take.holder];
  let agentClause = "";
  if (filter.agentId) {
    params.push(filter.agentId);
    agentClause = `AND agent_id = $${params.length}`;
  }
  params.push(take.kind === "reserve" ? take.seconds : take.leaseSeconds);
  const seconds = `$${params.length}::float8`;
  let executor = "NULL::text";
  if (take.kind !== "reserve") {
    params.push(take.executorId);
    executor = `$${params.length}::text`;
  }
  const { rows } = await db.query<JobRow & { reserved_until: Date | null }>(
    `WITH picked AS (
       SELECT job_id FROM jobs
       WHERE provider_account_id = $1 ${agentClause} AND status = ${lit("pending" satisfies JobStatus)}
         AND (reserved_until IS NULL OR reserved_until <= now() OR reserved_by = $3)
       ORDER BY created_at, job_id
       LIMIT $2
       FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs SET ${takeSets(take, seconds, executor)}
     WHERE jobs.job_id IN (SELECT job_id FROM picked)
     RETURNING ${JOB_COLUMNS}, jobs.reserved_until`,
    params,
    { prepare: true },
  );
  rows.sort(
    (a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.job_id < b.job_id ? -1 : 1),
  );
  const reservedUntil = take.kind === "reserve" ? (rows[0]?.reserved_until ?? null) : null;
  return { rows: rows.map(({ reserved_until: _, ...row }) => row), reservedUntil };
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
