import {
  type ExecutorHeaders,
  type ExecutorJobList,
  type ExecutorJobsQuery,
  FAILURE_CODES,
  type HeartbeatRequest,
  type Job,
  type JobInputs,
  type StatusUpdateRequest,
} from "@agnt/contract";
import { requireAgent } from "../agents/service.ts";
import { topics, waitUntil } from "../events/feed.ts";
import { type FilesDeps, inputFiles } from "../files/service.ts";
import { AppError } from "../http/problem.ts";
import { toJob } from "../jobs/model.ts";
import {
  type Change,
  jobState,
  type LifecycleDeps,
  heartbeat as renewLease,
  type Scope,
  transition,
} from "../lifecycle/service.ts";
import type { ExecutorInstances } from "./instances.ts";
import * as sql from "./sql.ts";

export interface ExecutorDeps extends LifecycleDeps {
  files: FilesDeps;
  instances: ExecutorInstances;
}

/** The agent exists (404) and belongs to the provider (403). */
export async function checkAgent(
  deps: ExecutorDeps,
  providerAccountId: string,
  agentId: string,
): Promise<void> {
  const agent = await requireAgent(deps.db, agentId);
  if (agent.owner_account_id !== providerAccountId) {
    throw new AppError("AGENT_NOT_OWNED", {
      detail: `Agent ${agentId} belongs to another provider.`,
    });
  }
}

/** Jobs of the provider's agents; with `wait`, held until one matches or the time passes. */
export async function listJobs(
  deps: ExecutorDeps,
  providerAccountId: string,
  query: ExecutorJobsQuery,
  signal: AbortSignal,
  headers: ExecutorHeaders = {},
): Promise<ExecutorJobList> {
  if (query.agent_id) await checkAgent(deps, providerAccountId, query.agent_id);
  await deps.instances.seen(providerAccountId, headers, query.agent_id);
  const rows = await waitUntil({
    feed: deps.feed,
    topics: [query.agent_id ? topics.agent(query.agent_id) : topics.provider(providerAccountId)],
    waitMs: query.wait * 1000,
    signal,
    read: () =>
      sql.listProviderJobs(deps.db, {
        providerAccountId,
        agentId: query.agent_id,
        status: query.status,
        limit: query.limit,
      }),
    ready: (jobs) => jobs.length > 0,
  });
  return { jobs: rows.map(toJob) };
}

/** Accept, reject, start, report progress or fail: one transition of the table. */
export async function updateStatus(
  deps: ExecutorDeps,
  providerAccountId: string,
  jobId: string,
  body: StatusUpdateRequest,
  executorId?: string | undefined,
): Promise<Job> {
  if (body.failure_code && !FAILURE_CODES[body.failure_code].settable_by_executor) {
    throw new AppError("INVALID_FAILURE_CODE", {
      detail: `failure_code ${body.failure_code} is set by the API itself, not by executors.`,
    });
  }
  const row = await transition(
    deps,
    jobId,
    { kind: "provider", accountId: providerAccountId },
    {
      to: body.status,
      attempt: body.attempt,
      actor: "executor",
      actorAccountId: providerAccountId,
      reason: body.reason,
      progress: body.progress,
      message: body.message,
      failureCode: body.status === "failed" ? (body.failure_code ?? "executor_error") : undefined,
      executorId,
    },
  );
  return toJob(row);
}

/** Renews the lease on a held job, with optional progress. */
export async function heartbeat(
  deps: ExecutorDeps,
  providerAccountId: string,
  jobId: string,
  body: HeartbeatRequest,
): Promise<Job> {
  return toJob(await renewLease(deps, jobId, providerAccountId, body));
}

/** The completion of a job by the provider's executor, at `attempt` (unfenced without). */
export function completion(
  providerAccountId: string,
  attempt: number | undefined,
): Change & { scope: Scope } {
  return {
    scope: { kind: "provider", accountId: providerAccountId },
    to: "completed",
    actor: "executor",
    actorAccountId: providerAccountId,
    attempt,
  };
}

/**
 * The attempt a completion is about: from the query, the body, or both when they agree
 * (VALIDATION_FAILED when they do not); undefined when neither gives one.
 */
export function agreedAttempt(
  fromQuery: number | undefined,
  fromBody: number | undefined,
): number | undefined {
  if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
    throw new AppError("VALIDATION_FAILED", {
      detail: `The body's attempt (${fromBody}) disagrees with ?attempt=${fromQuery}.`,
      errors: [{ in: "body", field: "attempt", message: "disagrees with the query" }],
    });
  }
  return fromQuery ?? fromBody;
}

/** Completes a running job without result files. */
export async function completeJob(
  deps: ExecutorDeps,
  providerAccountId: string,
  jobId: string,
  attempt: number | undefined,
): Promise<Job> {
  const change = completion(providerAccountId, attempt);
  return toJob(await transition(deps, jobId, change.scope, change));
}

/** The input files of a job the provider's executor holds (accepted or running). */
export async function getInputs(
  deps: ExecutorDeps,
  providerAccountId: string,
  jobId: string,
): Promise<JobInputs> {
  const state = await jobState(deps.db, jobId, { kind: "provider", accountId: providerAccountId });
  if (state.status !== "accepted" && state.status !== "running") {
    throw new AppError("INPUTS_NOT_AVAILABLE", {
      detail: `Job ${jobId} is ${state.status}; its inputs are handed out while it is accepted or running.`,
    });
  }
  return { job_id: jobId, files: await inputFiles(deps.db, deps.files, jobId) };
}
