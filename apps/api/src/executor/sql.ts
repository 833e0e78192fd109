import type { Actor, JobStatus } from "@agnt/contract";
import { lit } from "../db/sql-literals.ts";
import type { Queryable } from "../db/types.ts";
import { JOB_COLUMNS, type JobRow } from "../jobs/model.ts";
import {
  acceptedSets,
  type Scope,
  singleChange,
  type TransitionChange,
  transitionUpdate,
} from "../lifecycle/sql.ts";

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

/** A take that accepts, or accepts and starts, the jobs (polls' `claim`, completions' `next`). */
export type ClaimTake = Extract<Take, { kind: "accept" | "start" }>;

/**
 * Collects a statement's parameters, after those already in `values`: `add` returns the
 * placeholder of a new one.
 */
class Params {
  constructor(readonly values: unknown[] = []) {}
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * The pieces of a take's statement: `picked` selects the pending jobs it may take (`agent`, a
 * SQL expression, or every agent of the provider), `update` takes them (without RETURNING).
 * The update finds the picked jobs by primary key (`= ANY (ARRAY(…))`): as a join with
 * `picked` (`IN (SELECT …)`), whose size the prepared plan cannot know (its LIMIT is a
 * parameter), the planner chose to scan the whole jobs table for every take.
 */
function takeSql(
  params: Params,
  provider: string,
  agent: string | undefined,
  limit: number,
  take: Take,
): { picked: string; update: string } {
  const holder = params.add(take.holder);
  const picked = `SELECT job_id FROM jobs
       WHERE provider_account_id = ${provider} ${agent ? `AND agent_id = ${agent}` : ""}
         AND status = ${lit("pending" satisfies JobStatus)}
         AND (reserved_until IS NULL OR reserved_until <= now() OR reserved_by = ${holder})
       ORDER BY created_at, job_id
       LIMIT ${params.add(limit)}
       FOR UPDATE SKIP LOCKED`;
  if (take.kind === "reserve") {
    const seconds = params.add(take.seconds);
    return {
      picked,
      update: `UPDATE jobs SET reserved_until = now() + make_interval(secs => ${seconds}::float8),
         reserved_by = ${holder}
     WHERE jobs.job_id = ANY (ARRAY(SELECT job_id FROM picked))`,
    };
  }
  const started = take.kind === "start";
  const status: JobStatus = started ? "running" : "accepted";
  return {
    picked,
    update: `UPDATE jobs SET status = ${lit(status)}, ${acceptedSets(started ? "now()" : "NULL")},
         updated_at = now(), changed_by = ${lit("executor" satisfies Actor)},
         changed_by_account_id = ${provider}
     FROM (SELECT ${params.add(take.leaseSeconds)}::float8 AS v_lease_secs,
                  ${params.add(take.executorId)}::text AS v_executor) v
     WHERE jobs.job_id = ANY (ARRAY(SELECT job_id FROM picked))`,
  };
}

/** Oldest first, as polls hand jobs out. */
function oldestFirst<T extends JobRow>(rows: T[]): T[] {
  return rows.sort(
    (a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.job_id < b.job_id ? -1 : 1),
  );
}

/**
 * Takes up to `limit` of the provider's pending jobs for one poll, oldest first: jobs no one
 * holds, whose reservation lapsed, or that the poll's `holder` holds already. A reservation
 * holds them for the holder (renewed when held already); an accept or start moves them along
 * the lifecycle as the executor's own status calls would (the jobs_updated trigger records a
 * start as accepted, then running). Rows another poll is taking at this moment are skipped
 * (`FOR UPDATE SKIP LOCKED`), so concurrent polls are never handed the same job and never
 * wait for each other. Returns the jobs, oldest first, and until when reserved ones are held.
 */
export async function takePendingJobs(
  db: Queryable,
  filter: Omit<ProviderJobFilter, "status">,
  take: Take,
): Promise<{ rows: JobRow[]; reservedUntil: Date | null }> {
  const params = new Params();
  const provider = params.add(filter.providerAccountId);
  const agent = filter.agentId ? params.add(filter.agentId) : undefined;
  const { picked, update } = takeSql(params, provider, agent, filter.limit, take);
  const { rows } = await db.query<JobRow & { reserved_until: Date | null }>(
    `WITH picked AS (${picked})
     ${update}
     RETURNING ${JOB_COLUMNS}, jobs.reserved_until`,
    params.values,
    { prepare: true },
  );
  const reservedUntil = take.kind === "reserve" ? (rows[0]?.reserved_until ?? null) : null;
  return {
    rows: oldestFirst(rows).map(({ reserved_until: _, ...row }) => row),
    reservedUntil,
  };
}

/**
 * Completes a running job of the provider (`change`, as `transitionJob` makes it) and, in the
 * same statement, accepts or starts the next pending job of the same agent for the same
 * executor (`takePendingJobs` with limit 1). Nothing is taken when the completion does not apply.
 */
export async function completeAndTake(
  db: Queryable,
  jobId: string,
  scope: Scope,
  change: TransitionChange,
  take: ClaimTake,
): Promise<{ done: JobRow | undefined; taken: JobRow[] }> {
  const { shape, item } = singleChange(jobId, scope, change);
  const complete = transitionUpdate(shape, [item]);
  const params = new Params(complete.values);
  const provider = params.add(scope.accountId);
  const { picked, update } = takeSql(params, provider, "(SELECT agent_id FROM done)", 1, take);
  const { rows } = await db.query<JobRow & { done: boolean }>(
    `WITH done AS (${complete.text} RETURNING ${JOB_COLUMNS}),
     picked AS (${picked}),
     taken AS (${update} RETURNING ${JOB_COLUMNS})
     SELECT true AS done, * FROM done
     UNION ALL
     SELECT false AS done, * FROM taken`,
    params.values,
    { prepare: true },
  );
  const strip = ({ done: _, ...row }: JobRow & { done: boolean }): JobRow => row;
  const done = rows.find((row) => row.done);
  return {
    done: done && strip(done),
    taken: oldestFirst(rows.filter((row) => !row.done)).map(strip),
  };
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
