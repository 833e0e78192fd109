import { allowedFrom, type JobStatus } from "@agnt/contract";
import type { Db } from "../db/types.ts";
import type { ChangeFeed } from "../events/feed.ts";
import { AppError } from "../http/problem.ts";
import type { JobRow } from "../jobs/model.ts";
import * as sql from "./sql.ts";

export type { Scope } from "./sql.ts";

export interface LifecycleDeps {
  db: Db;
  feed: ChangeFeed;
}

/**
 * Moves a job along the transition table in one conditional UPDATE and announces the change.
 * When nothing matched, says why: no such job in scope (404), canceled (409 JOB_CANCELED, to
 * executors), a stale attempt (409 ATTEMPT_MISMATCH) or a status the table does not allow
 * (409 INVALID_TRANSITION). Refusals change nothing.
 */
export async function transition(
  deps: LifecycleDeps,
  jobId: string,
  scope: sql.Scope,
  change: Omit<sql.TransitionChange, "from">,
): Promise<JobRow> {
  const from = allowedFrom(change.to, change.actor);
  const row = await sql.transitionJob(deps.db, jobId, scope, { ...change, from });
  if (row) {
    deps.feed.publish({
      jobId: row.job_id,
      agentId: row.agent_id,
      providerAccountId: row.provider_account_id,
      status: row.status,
    });
    return row;
  }
  const state = await sql.findJobState(deps.db, jobId, scope);
  if (!state)
    throw new AppError("JOB_NOT_FOUND", { detail: `No job ${jobId} is visible to this key.` });
  if (state.status === "canceled" && change.actor === "executor") {
    throw new AppError("JOB_CANCELED", { detail: `Job ${jobId} was canceled by the buyer.` });
  }
  if (change.attempt !== undefined && state.attempt !== change.attempt) {
    throw new AppError("ATTEMPT_MISMATCH", {
      detail: `Job ${jobId} is at attempt ${state.attempt}, not ${change.attempt}.`,
    });
  }
  throw new AppError("INVALID_TRANSITION", {
    detail: `Job ${jobId} is ${state.status}; ${describe(change.to, from)}.`,
  });
}

function describe(to: JobStatus, from: JobStatus[]): string {
  if (to === "running" && from.includes("running")) {
    return "running (or a progress report) needs the job accepted or running";
  }
  return `${to} is only allowed from ${from.join(" or ")}`;
}
