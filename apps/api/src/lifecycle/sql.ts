import type { Actor, FailureCode, JobStatus } from "@agnt/contract";
import type { Queryable } from "../db/types.ts";
import { JOB_COLUMNS, type JobRow } from "../jobs/model.ts";

/** Whose jobs a caller may change: a buyer its own, a provider those of its agents. */
export type Scope = { kind: "buyer" | "provider"; accountId: string };

const SCOPE_COLUMN = { buyer: "buyer_account_id", provider: "provider_account_id" } as const;

export interface TransitionChange {
  to: JobStatus;
  from: JobStatus[];
  /** When set, the job's current attempt must equal it. */
  attempt?: number | undefined;
  actor: Actor;
  actorAccountId: string | null;
  reason?: string | undefined;
  progress?: number | undefined;
  message?: string | undefined;
  failureCode?: FailureCode | undefined;
}

/**
 * One conditional UPDATE: changes the job only if it is in scope, in one of the `from`
 * statuses and (when given) at the expected attempt. Of concurrent callers exactly one can
 * match. The jobs_record_event trigger writes the job_events row in the same statement.
 * Returns the changed job, or undefined when nothing matched.
 */
export async function transitionJob(
  db: Queryable,
  jobId: string,
  scope: Scope,
  change: TransitionChange,
): Promise<JobRow | undefined> {
  const params: unknown[] = [
    jobId,
    scope.accountId,
    change.from,
    change.to,
    change.actor,
    change.actorAccountId,
  ];
  const p = (value: unknown, type: string) => {
    params.push(value ?? null);
    return `$${params.length}::${type}`;
  };
  const sets: Record<JobStatus, () => string> = {
    pending: () => "accepted_at = NULL, started_at = NULL",
    accepted: () =>
      "accepted_at = now(), started_at = NULL, progress = NULL, progress_message = NULL",
    running: () =>
      `started_at = COALESCE(started_at, now()),
       progress = COALESCE(${p(change.progress, "int")}, progress),
       progress_message = COALESCE(${p(change.message, "text")}, progress_message)`,
    completed: () => "completed_at = now(), progress = 100",
    failed: () =>
      `completed_at = now(), decision_reason = ${p(change.reason, "text")},
       failure_code = ${p(change.failureCode, "text")}`,
    rejected: () => `completed_at = now(), decision_reason = ${p(change.reason, "text")}`,
    canceled: () => `completed_at = now(), decision_reason = ${p(change.reason, "text")}`,
  };
  const set = sets[change.to]();
  const attemptClause =
    change.attempt === undefined ? "" : `AND attempt = ${p(change.attempt, "int")}`;
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs
     SET status = $4, ${set}, updated_at = now(), changed_by = $5, changed_by_account_id = $6::uuid
     WHERE job_id = $1 AND ${SCOPE_COLUMN[scope.kind]} = $2 AND status = ANY($3::text[]) ${attemptClause}
     RETURNING ${JOB_COLUMNS}`,
    params,
  );
  return rows[0];
}

/** The status and attempt of a job in scope, to explain why a transition did not match. */
export async function findJobState(
  db: Queryable,
  jobId: string,
  scope: Scope,
): Promise<{ status: JobStatus; attempt: number } | undefined> {
  const { rows } = await db.query<{ status: JobStatus; attempt: number }>(
    `SELECT status, attempt FROM jobs WHERE job_id = $1 AND ${SCOPE_COLUMN[scope.kind]} = $2`,
    [jobId, scope.accountId],
  );
  return rows[0];
}
