import { ACTIVE_STATUSES, type Actor, type FailureCode, type JobStatus } from "@agnt/contract";
import { batchSource } from "../db/batcher.ts";
import { lit, litList } from "../db/sql-literals.ts";
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
  /** Length of the lease an accept starts and every later call renews. */
  leaseSeconds: number;
  /** The executor instance taking the job (Agnt-Executor-Id), on accept. */
  executorId?: string | undefined;
}

/** What every change of one batch shares: one statement text (`transitionJobs`). */
export interface TransitionShape {
  to: JobStatus;
  from: readonly JobStatus[];
  actor: Actor;
  scope: Scope["kind"];
}

/** A name for the shape: changes of one shape share one statement text. */
export function shapeKey(shape: TransitionShape): string {
  return `${shape.to}|${shape.actor}|${shape.scope}|${shape.from.join(",")}`;
}

/** One job's change within a batch of one shape. */
export type TransitionItem = Omit<TransitionChange, "to" | "from" | "actor"> & {
  jobId: string;
  /** The buyer or provider whose job it must be (the shape's scope). */
  accountId: string;
};

/** A column of the values (`v`) of a batch's changes: `[name, type, pick]` (db/batcher.ts). */
export type ValueColumn<T> = readonly [
  name: string,
  type: string,
  pick: (item: T, index: number) => unknown,
];

/** The values of one job's change (`v`), named apart from the jobs table's columns. */
const VALUES = [
  ["v_job", "uuid", (item) => item.jobId],
  ["v_account", "uuid", (item) => item.accountId],
  ["v_attempt", "int", (item) => item.attempt],
  ["v_actor_account", "uuid", (item) => item.actorAccountId],
  ["v_lease_secs", "float8", (item) => item.leaseSeconds],
  ["v_progress", "int", (item) => item.progress],
  ["v_message", "text", (item) => item.message],
  ["v_reason", "text", (item) => item.reason],
  ["v_failure", "text", (item) => item.failureCode],
  ["v_executor", "text", (item) => item.executorId],
  ["v_ord", "int", (_, index) => index],
] as const satisfies readonly ValueColumn<TransitionItem>[];

const LEASE = "lease_expires_at = now() + make_interval(secs => v.v_lease_secs)";
const RELEASED = "lease_expires_at = NULL, run_deadline_at = NULL";

/**
 * What accepting a job sets, from `v.v_lease_secs` and `v.v_executor`. A claim that accepts and
 * starts at once (`executor/sql.ts`) sets `started_at` to now() as well.
 */
export function acceptedSets(startedAt: "NULL" | "now()"): string {
  return `accepted_at = now(), started_at = ${startedAt}, progress = NULL, progress_message = NULL, ${LEASE},
     run_deadline_at = now() + make_interval(secs => timeout_seconds),
     executor_id = v.v_executor, reserved_until = NULL, reserved_by = NULL`;
}

const SETS: Record<JobStatus, string> = {
  pending: `accepted_at = NULL, started_at = NULL, ${RELEASED}`,
  accepted: acceptedSets("NULL"),
  running: `started_at = COALESCE(started_at, now()), ${LEASE},
     progress = COALESCE(v.v_progress, progress),
     progress_message = COALESCE(v.v_message, progress_message)`,
  completed: `completed_at = now(), progress = 100, ${RELEASED}`,
  failed: `completed_at = now(), decision_reason = v.v_reason, failure_code = v.v_failure, ${RELEASED}`,
  rejected: `completed_at = now(), decision_reason = v.v_reason, ${RELEASED}`,
  canceled: `completed_at = now(), decision_reason = v.v_reason, ${RELEASED}`,
};

/**
 * One conditional UPDATE for a batch of jobs of one shape: each job changes only if it is in
 * its scope, in one of the `from` statuses and (when given) at the expected attempt. Of
 * concurrent callers for one job exactly one can match (in one batch too: a row is updated
 * once). The jobs_updated trigger writes each job's job_events row in the same
 * statement. Returns, per item in order, the changed job or undefined when nothing matched.
 */
export async function transitionJobs(
  db: Queryable,
  shape: TransitionShape,
  items: readonly TransitionItem[],
): Promise<(JobRow | undefined)[]> {
  const update = transitionUpdate(shape, items);
  const { rows } = await db.query<JobRow & { ord: number }>(
    `${update.text}
     RETURNING ${JOB_COLUMNS}, v.v_ord AS ord`,
    update.values,
    { prepare: true },
  );
  const changed: (JobRow | undefined)[] = items.map(() => undefined);
  for (const { ord, ...row } of rows) changed[ord] = row;
  return changed;
}

/**
 * The conditional UPDATE of `transitionJobs`, without its RETURNING (`v`: each item's values,
 * `v_ord` its index, and the `extra` columns a larger statement carries along), and its
 * parameters; also a step of larger statements (`executor/sql.ts` completeAndTake).
 *
 * Its plan must find each job by primary key whatever the table's statistics say, and stay
 * the one prepared plan: the shape (statuses, actor) is literal, one statement text per shape,
 * and every other condition is one filter that no index can serve (`(…) IS TRUE`). Written
 * as plain conditions, the known statuses let the planner prefer an index keyed on status
 * (jobs_provider, or the partial index of leased jobs), which holds an entry for every status
 * a job passed through until vacuum removes it, while the planner counts live rows only: on a
 * busy queue such a lookup read 45 buffers instead of 4, and plans that depend on the
 * statuses were made again for every call instead of once (docs/performance.md, 2026-12-07).
 */
export function transitionUpdate<T extends TransitionItem>(
  shape: TransitionShape,
  items: readonly T[],
  extra: readonly ValueColumn<T>[] = [],
): { text: string; values: unknown[] } {
  const source = batchSource(items, 1, [...VALUES, ...extra]);
  return {
    text: `UPDATE jobs
     SET status = ${lit(shape.to)}, ${SETS[shape.to]}, updated_at = now(), changed_by = ${lit(shape.actor)},
         changed_by_account_id = v.v_actor_account
     FROM ${source.sql}
     WHERE jobs.job_id = v.v_job
       AND (jobs.${SCOPE_COLUMN[shape.scope]} = v.v_account AND jobs.status IN (${litList(shape.from)})
            AND (v.v_attempt IS NULL OR jobs.attempt = v.v_attempt)) IS TRUE`,
    values: source.values,
  };
}

/** The shape and item of one job's change. */
export function singleChange(
  jobId: string,
  scope: Scope,
  change: TransitionChange,
): { shape: TransitionShape; item: TransitionItem } {
  const { to, from, actor, ...rest } = change;
  return {
    shape: { to, from, actor, scope: scope.kind },
    item: { ...rest, jobId, accountId: scope.accountId },
  };
}

/** One job's change (`transitionJobs` with one item), e.g. inside a transaction. */
export async function transitionJob(
  db: Queryable,
  jobId: string,
  scope: Scope,
  change: TransitionChange,
): Promise<JobRow | undefined> {
  const { shape, item } = singleChange(jobId, scope, change);
  const [row] = await transitionJobs(db, shape, [item]);
  return row;
}

export interface JobState {
  status: JobStatus;
  attempt: number;
  failure_code: FailureCode | null;
}

/**
 * Renews the lease of a job the executor holds in one of the `from` statuses (at this attempt,
 * when given), with optional progress. Returns the job, or undefined when nothing matched.
 * The job is found by primary key alone, as in `transitionUpdate`.
 */
export async function renewLease(
  db: Queryable,
  jobId: string,
  providerAccountId: string,
  renewal: {
    from: JobStatus[];
    attempt?: number | undefined;
    leaseSeconds: number;
    progress?: number | undefined;
    message?: string | undefined;
  },
): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs
     SET lease_expires_at = now() + make_interval(secs => $4::float8),
         progress = COALESCE($5::int, progress),
         progress_message = COALESCE($6::text, progress_message),
         updated_at = CASE WHEN $5::int IS NULL AND $6::text IS NULL THEN updated_at ELSE now() END,
         changed_by = ${lit("executor" satisfies Actor)}, changed_by_account_id = $2
     WHERE job_id = $1
       AND (provider_account_id = $2 AND ($3::int IS NULL OR attempt = $3::int)
            AND status = ANY($7::text[])) IS TRUE
     RETURNING ${JOB_COLUMNS}`,
    [
      jobId,
      providerAccountId,
      renewal.attempt ?? null,
      renewal.leaseSeconds,
      renewal.progress ?? null,
      renewal.message ?? null,
      renewal.from,
    ],
    { prepare: true },
  );
  return rows[0];
}

/** The status and attempt of a job in scope, to explain why a transition did not match. */
export async function findJobState(
  db: Queryable,
  jobId: string,
  scope: Scope,
): Promise<JobState | undefined> {
  const { rows } = await db.query<JobState>(
    `SELECT status, attempt, failure_code FROM jobs WHERE job_id = $1 AND ${SCOPE_COLUMN[scope.kind]} = $2`,
    [jobId, scope.accountId],
    { prepare: true },
  );
  return rows[0];
}

/**
 * What each sweep does, in the transition table's terms (a test checks that the table allows
 * every one of these moves for the `system` actor).
 */
export const SWEEPS = {
  /** Run deadline passed: failed/timed_out. */
  timedOut: { from: ACTIVE_STATUSES, to: ["failed"] },
  /** Lease lapsed: pending with attempt + 1, or failed/lease_lost after the last attempt. */
  lapsedLease: { from: ACTIVE_STATUSES, to: ["pending", "failed"] },
  /** Queue deadline passed: failed/expired. */
  expired: { from: ["pending"], to: ["failed"] },
} as const satisfies Record<string, { from: readonly JobStatus[]; to: readonly JobStatus[] }>;

const SYSTEM_CHANGE = `changed_by = ${lit("system" satisfies Actor)}, changed_by_account_id = NULL, updated_at = now()`;
const status = (value: JobStatus) => lit(value);
const failure = (value: FailureCode) => lit(value);

/** Fails jobs past their run deadline (`timed_out`). Returns the changed jobs. */
export async function failTimedOut(db: Queryable): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs
     SET status = ${status("failed")}, failure_code = ${failure("timed_out")}, completed_at = now(),
         decision_reason = 'The job ran longer than its run timeout of ' || timeout_seconds || ' seconds.',
         lease_expires_at = NULL, run_deadline_at = NULL, ${SYSTEM_CHANGE}
     WHERE status IN (${litList(SWEEPS.timedOut.from)}) AND run_deadline_at < now()
     RETURNING ${JOB_COLUMNS}`,
    [],
    { prepare: true },
  );
  return rows;
}

/**
 * Jobs whose lease lapsed: back to pending with attempt + 1 while attempts remain, else failed
 * with `lease_lost`. One statement, so concurrent sweepers in several replicas never both act.
 */
export async function reclaimLapsedLeases(db: Queryable): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs
     SET status = CASE WHEN attempt < max_attempts THEN ${status("pending")} ELSE ${status("failed")} END,
         attempt = CASE WHEN attempt < max_attempts THEN attempt + 1 ELSE attempt END,
         failure_code = CASE WHEN attempt < max_attempts THEN NULL ELSE ${failure("lease_lost")} END,
         completed_at = CASE WHEN attempt < max_attempts THEN NULL ELSE now() END,
         decision_reason = CASE WHEN attempt < max_attempts THEN decision_reason
           ELSE 'The executor stopped renewing its lease on the last of ' || max_attempts || ' attempts.' END,
         accepted_at = NULL, started_at = NULL, progress = NULL, progress_message = NULL,
         executor_id = NULL, lease_expires_at = NULL, run_deadline_at = NULL, ${SYSTEM_CHANGE}
     WHERE status IN (${litList(SWEEPS.lapsedLease.from)}) AND lease_expires_at < now()
     RETURNING ${JOB_COLUMNS}`,
    [],
    { prepare: true },
  );
  return rows;
}

/** Fails pending jobs past their queue deadline (`expired`). */
export async function failExpired(db: Queryable): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs
     SET status = ${status("failed")}, failure_code = ${failure("expired")}, completed_at = now(),
         decision_reason = 'No executor accepted the job before its queue deadline.', ${SYSTEM_CHANGE}
     WHERE status IN (${litList(SWEEPS.expired.from)}) AND expires_at < now()
     RETURNING ${JOB_COLUMNS}`,
    [],
    { prepare: true },
  );
  return rows;
}

/**
 * Releases the reservations of pending jobs that lapsed, so that executors waiting for work
 * are woken (the notify trigger fires on a release) and can take them. Returns the jobs.
 */
export async function releaseLapsedReservations(db: Queryable): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs SET reserved_until = NULL, reserved_by = NULL
     WHERE status = ${status("pending")} AND reserved_until <= now()
     RETURNING ${JOB_COLUMNS}`,
    [],
    { prepare: true },
  );
  return rows;
}

/**
 * The earliest lease expiry, run deadline, queue deadline or reservation expiry among open
 * jobs; null when none.
 */
export async function nextDeadline(db: Queryable): Promise<Date | null> {
  const { rows } = await db.query<{ due: Date | null }>(
    `SELECT least(
       (SELECT min(reserved_until) FROM jobs
        WHERE status = ${status("pending")} AND reserved_until IS NOT NULL),
       (SELECT min(lease_expires_at) FROM jobs WHERE status IN (${litList(SWEEPS.lapsedLease.from)})),
       (SELECT min(run_deadline_at) FROM jobs
        WHERE status IN (${litList(SWEEPS.timedOut.from)}) AND run_deadline_at IS NOT NULL),
       (SELECT min(expires_at) FROM jobs
        WHERE status IN (${litList(SWEEPS.expired.from)}) AND expires_at IS NOT NULL)
     ) AS due`,
    [],
    { prepare: true },
  );
  return rows[0]?.due ?? null;
}
