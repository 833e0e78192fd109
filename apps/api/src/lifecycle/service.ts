import { ACTIVE_STATUSES, allowedFrom, type JobStatus, progressFrom } from "@agnt/contract";
import type { Db, Queryable } from "../db/types.ts";
import type { ChangeFeed } from "../events/feed.ts";
import { AppError } from "../http/problem.ts";
import type { JobRow } from "../jobs/model.ts";
import type { TransitionBatches } from "./batches.ts";
import * as sql from "./sql.ts";

export type { Scope } from "./sql.ts";

export interface LifecycleDeps {
  db: Db;
  feed: ChangeFeed;
  /** Where transitions outside transactions are batched. */
  transitions: TransitionBatches;
  /** Length of executor leases, in seconds. */
  leaseSeconds: number;
}

export type Change = Omit<sql.TransitionChange, "from" | "leaseSeconds">;

/** The job is not there for this key: no such job, or one of another buyer or provider. */
export function jobNotFound(jobId: string): AppError {
  return new AppError("JOB_NOT_FOUND", { detail: `No job ${jobId} is visible to this key.` });
}

/** Why a change does not apply to a job in this state (undefined: it applies). */
function refusal(
  jobId: string,
  state: sql.JobState | undefined,
  change: Pick<Change, "actor" | "attempt" | "to">,
  from: readonly JobStatus[],
): AppError | undefined {
  if (!state) return jobNotFound(jobId);
  const unfencedOrSame = change.attempt === undefined || state.attempt === change.attempt;
  if (change.actor === "executor" && !from.includes(state.status)) {
    // Say why an executor must stop when the buyer or the API ended the job under it.
    if (state.status === "canceled") {
      return new AppError("JOB_CANCELED", { detail: `Job ${jobId} was canceled by the buyer.` });
    }
    if (state.failure_code === "timed_out") {
      return new AppError("JOB_TIMED_OUT", {
        detail: `Job ${jobId} ran past its run timeout and failed.`,
      });
    }
    if (state.failure_code === "lease_lost" && unfencedOrSame) {
      return new AppError("LEASE_LOST", {
        detail: `Job ${jobId}'s lease lapsed on its last attempt; the job failed.`,
      });
    }
  }
  if (!unfencedOrSame) {
    return new AppError("ATTEMPT_MISMATCH", {
      detail: `Job ${jobId} is at attempt ${state.attempt}, not ${change.attempt}.`,
    });
  }
  if (!from.includes(state.status)) {
    return new AppError("INVALID_TRANSITION", {
      detail: `Job ${jobId} is ${state.status}; ${describe(change.to, from)}.`,
    });
  }
  return undefined;
}

function describe(to: JobStatus, from: readonly JobStatus[]): string {
  if (to === "running" && from.includes("running")) {
    return "running (or a progress report) needs the job accepted or running";
  }
  return `${to} is only allowed from ${from.join(" or ")}`;
}

/**
 * Why a conditional UPDATE matched nothing: the refusal for the job as it is now or, when the
 * job changed between the UPDATE and this read, a conflict to fetch and retry.
 */
async function explainNoMatch(
  db: Queryable,
  jobId: string,
  scope: sql.Scope,
  change: Pick<Change, "actor" | "attempt" | "to">,
  from: readonly JobStatus[],
): Promise<AppError> {
  const state = await sql.findJobState(db, jobId, scope);
  return (
    refusal(jobId, state, change, from) ??
    new AppError("INVALID_TRANSITION", {
      detail: `Job ${jobId} changed concurrently; fetch it and retry.`,
    })
  );
}

/**
 * Moves a job along the transition table in one conditional UPDATE and announces the change.
 * `within` runs in the same transaction after the UPDATE matched (e.g. to record a result
 * manifest), so both land or neither does. When nothing matched, says why: no such job in
 * scope (404), canceled (409 JOB_CANCELED, to executors), a stale attempt (409
 * ATTEMPT_MISMATCH) or a status the table does not allow (409 INVALID_TRANSITION). Refusals
 * change nothing. Without `attempt` the change applies to whatever attempt is current.
 */
export async function transition(
  deps: LifecycleDeps,
  jobId: string,
  scope: sql.Scope,
  change: Change,
  within?: (tx: Queryable, row: JobRow) => Promise<void>,
): Promise<JobRow> {
  return applyTransition(deps, jobId, scope, change, (full) => {
    if (!within) {
      const { shape, item } = sql.singleChange(jobId, scope, full);
      return deps.transitions.apply(shape, item);
    }
    return deps.db.transaction(async (tx) => {
      const changed = await sql.transitionJob(tx, jobId, scope, full);
      if (changed) await within(tx, changed);
      return changed;
    });
  });
}

/**
 * `transition` with the statement written by the caller: `apply` makes the change as the
 * table allows it (`full`: the change with its `from` statuses and lease) and resolves with
 * the changed job, or undefined when nothing matched — then the same errors are thrown.
 */
export async function applyTransition(
  deps: LifecycleDeps,
  jobId: string,
  scope: sql.Scope,
  change: Change,
  apply: (full: sql.TransitionChange) => Promise<JobRow | undefined>,
): Promise<JobRow> {
  const from = allowedFrom(change.to, change.actor);
  const row = await apply({ ...change, from, leaseSeconds: deps.leaseSeconds });
  if (!row) throw await explainNoMatch(deps.db, jobId, scope, change, from);
  announce(deps.feed, row);
  return row;
}

/**
 * Checks, without changing anything, that `change` would apply to the job as it is now;
 * throws the same errors `transition` would. Returns the job's current state.
 */
export async function checkTransition(
  deps: LifecycleDeps,
  jobId: string,
  scope: sql.Scope,
  change: Change,
): Promise<sql.JobState> {
  const state = await sql.findJobState(deps.db, jobId, scope);
  const problem = refusal(jobId, state, change, allowedFrom(change.to, change.actor));
  if (problem) throw problem;
  return state as sql.JobState;
}

/** The status and attempt of a job in the caller's scope, or JOB_NOT_FOUND. */
export async function jobState(
  db: Queryable,
  jobId: string,
  scope: sql.Scope,
): Promise<sql.JobState> {
  const state = await sql.findJobState(db, jobId, scope);
  if (!state) throw jobNotFound(jobId);
  return state;
}

/** Tells waiters in this process that a job changed. */
export function announce(feed: ChangeFeed, row: JobRow): void {
  feed.publish({
    jobId: row.job_id,
    agentId: row.agent_id,
    providerAccountId: row.provider_account_id,
    status: row.status,
    xid: row.xid,
  });
}

/**
 * Renews the lease on a job the executor holds (a heartbeat): while it is accepted or running
 * (`ACTIVE_STATUSES`); with progress, only where the table allows progress (`running →
 * running`). Refused like a transition: 404, 409 with the reason the executor must stop, or a
 * stale attempt. Without `attempt` it applies to the current attempt.
 */
export async function heartbeat(
  deps: LifecycleDeps,
  jobId: string,
  providerAccountId: string,
  beat: {
    attempt?: number | undefined;
    progress?: number | undefined;
    message?: string | undefined;
  },
): Promise<JobRow> {
  const reporting = beat.progress !== undefined || beat.message !== undefined;
  const from = reporting ? progressFrom() : [...ACTIVE_STATUSES];
  const row = await sql.renewLease(deps.db, jobId, providerAccountId, {
    ...beat,
    from,
    leaseSeconds: deps.leaseSeconds,
  });
  if (row) {
    if (reporting) announce(deps.feed, row);
    return row;
  }
  const scope = { kind: "provider" as const, accountId: providerAccountId };
  const change = { actor: "executor" as const, attempt: beat.attempt, to: "running" as const };
  throw await explainNoMatch(deps.db, jobId, scope, change, from);
}
