import { randomUUID } from "node:crypto";
import {
  type CompletedJob,
  type ExecutorHeaders,
  type ExecutorJobList,
  type ExecutorJobsQuery,
  FAILURE_CODES,
  type HeartbeatRequest,
  type Job,
  type JobInputs,
  type NextClaim,
  type PollClaim,
  type StatusUpdateRequest,
} from "@agnt/contract";
import type { AgentCache } from "../agents/order-cache.ts";
import type { Queryable } from "../db/types.ts";
import { type ChangeFeed, topics, waitUntil } from "../events/feed.ts";
import { type FilesDeps, inputFiles } from "../files/service.ts";
import { AppError } from "../http/problem.ts";
import { type JobRow, toJob } from "../jobs/model.ts";
import {
  announce,
  applyTransition,
  type Change,
  jobState,
  type LifecycleDeps,
  heartbeat as renewLease,
  type Scope,
  transition,
} from "../lifecycle/service.ts";
import type { CompletionBatches } from "./completions.ts";
import type { ExecutorInstances } from "./instances.ts";
import * as sql from "./sql.ts";

export interface ExecutorDeps extends LifecycleDeps {
  agents: AgentCache;
  files: FilesDeps;
  instances: ExecutorInstances;
  /** Where completions that take the next job are batched. */
  completions: CompletionBatches;
  /** How long pending jobs handed to a poll stay reserved for its executor. */
  reservationSeconds: number;
}

/**
 * The agent exists (404) and belongs to the provider (403). Read through the agent cache:
 * an agent's owner never changes, so a poll costs no agent query.
 */
export async function checkAgent(
  deps: Pick<ExecutorDeps, "agents">,
  providerAccountId: string,
  agentId: string,
): Promise<void> {
  const agent = await deps.agents.get(agentId);
  if (agent.owner_account_id !== providerAccountId) {
    throw new AppError("AGENT_NOT_OWNED", {
      detail: `Agent ${agentId} belongs to another provider.`,
    });
  }
}

/** What a poll needs. */
export type PollDeps = Pick<
  ExecutorDeps,
  "db" | "feed" | "instances" | "agents" | "reservationSeconds" | "leaseSeconds"
>;

/** Who holds what a poll takes: an executor's own id across its polls; without one, the poll. */
function holderOf(executorId: string | undefined): string {
  return executorId ? `exec:${executorId}` : `poll:${randomUUID()}`;
}

/** A take that accepts (or accepts and starts) jobs for the executor. */
function claimTake(deps: PollDeps, kind: NextClaim, executorId: string | undefined): sql.ClaimTake {
  return {
    kind,
    holder: holderOf(executorId),
    leaseSeconds: deps.leaseSeconds,
    executorId: executorId ?? null,
  };
}

/** What a poll does with the pending jobs it hands out (the contract's `claim`). */
function takeOf(
  deps: PollDeps,
  claim: PollClaim,
  executorId: string | undefined,
): sql.Take | undefined {
  if (claim === "none") return undefined;
  if (claim === "reserve") {
    return { kind: "reserve", holder: holderOf(executorId), seconds: deps.reservationSeconds };
  }
  return claimTake(deps, claim, executorId);
}

/**
 * Jobs of the provider's agents; with `wait`, held until one matches or the time passes.
 * Pending jobs are reserved for the polling executor, accepted or started for it, or only
 * looked at, as `claim` says (see `sql.takePendingJobs`): concurrent polls are handed
 * different jobs.
 */
export async function listJobs(
  deps: PollDeps,
  providerAccountId: string,
  query: ExecutorJobsQuery,
  signal: AbortSignal,
  headers: ExecutorHeaders = {},
): Promise<ExecutorJobList> {
  await deps.instances.seen(providerAccountId, headers, query.agent_id);
  const filter = { providerAccountId, agentId: query.agent_id, limit: query.limit };
  const pending = query.status === "pending";
  const take = pending ? takeOf(deps, query.claim, headers["agnt-executor-id"]) : undefined;
  const topic = query.agent_id
    ? (pending ? topics.pendingOfAgent : topics.agent)(query.agent_id)
    : (pending ? topics.pendingOfProvider : topics.provider)(providerAccountId);
  const nothing = { rows: [], reservedUntil: null };
  let checked = false;
  let first = true;
  const read = async () => {
    // A poll whose executor went away takes nothing: no one would be told it holds the jobs.
    if (take && signal.aborted) return nothing;
    // Its executor's last read (a poll, or a completion's `next`) just found nothing to take,
    // and no job became pending since: wait for one without reading first.
    const known = first && take && query.wait > 0 && deps.feed.knownEmpty(topic, take.holder);
    first = false;
    const mark = deps.feed.pendingMark();
    const found = known
      ? nothing
      : take
        ? await sql.takePendingJobs(deps.db, filter, take)
        : {
            rows: await sql.listProviderJobs(deps.db, { ...filter, status: query.status }),
            reservedUntil: null,
          };
    if (take && !known && found.rows.length === 0) deps.feed.foundNone(topic, take.holder, mark);
    // Jobs found are the provider's own; finding none may mean the agent is not theirs.
    if (found.rows.length === 0 && query.agent_id && !checked) {
      await checkAgent(deps, providerAccountId, query.agent_id);
      checked = true;
    }
    // A new reservation is a deadline the sweeper must wake up for; accepted jobs changed.
    if (found.reservedUntil) deps.feed.signal(topics.deadlines);
    if (take && take.kind !== "reserve") for (const row of found.rows) announce(deps.feed, row);
    return found;
  };
  // Waiting for pending jobs, a poll wakes only when a job becomes pending; a taking one
  // only when chosen to take it (one poll per new job, not every waiting executor).
  const found = await waitUntil({
    feed: deps.feed,
    topics: [topic],
    claims: take !== undefined,
    // A job ordered while this poll waits may be inserted already taken for it: it is here.
    handOff:
      take && take.kind !== "reserve"
        ? { taker: take, handed: (jobs) => ({ rows: jobs as JobRow[], reservedUntil: null }) }
        : undefined,
    waitMs: query.wait * 1000,
    signal,
    read,
    ready: (result) => result.rows.length > 0,
  });
  return {
    jobs: found.rows.map(toJob),
    reserved_until: found.reservedUntil ? found.reservedUntil.toISOString() : null,
  };
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

/** How a completion takes the next job (`?next=`), for the executor that sent it. */
export function nextTake(
  deps: PollDeps,
  next: NextClaim | undefined,
  executorId: string | undefined,
): sql.ClaimTake | undefined {
  return next && claimTake(deps, next, executorId);
}

/** The completed job, with the next one taken when one was asked for. */
export function completed(done: JobRow, taken: JobRow[] | undefined): CompletedJob {
  return taken ? { ...toJob(done), next_jobs: taken.map(toJob) } : toJob(done);
}

/**
 * Whether the completed job's agent is where the executor's last read found no job it could
 * take, with none pending there since (`ChangeFeed.knownEmptyTopic`): nothing to take next.
 */
export function nothingNext(emptyTopic: string | undefined, done: JobRow): boolean {
  return emptyTopic !== undefined && emptyTopic === topics.pendingOfAgent(done.agent_id);
}

/** Takes the agent's next pending job for the executor, as a completion's `?next=` does. */
export async function takeNext(
  db: Queryable,
  providerAccountId: string,
  agentId: string,
  take: sql.ClaimTake,
): Promise<JobRow[]> {
  return (await sql.takePendingJobs(db, { providerAccountId, agentId, limit: 1 }, take)).rows;
}

/**
 * Completes a running job without result files; with `take`, the same statement takes the
 * agent's next pending job for the executor (`sql.completeAndTake`). When the executor's last
 * read found nothing to take and nothing became pending since (as when every job reaches it
 * handed at its order), there is nothing to look for: the completion is a plain transition
 * (batched with others), and only a job of another agent than the one known empty is looked
 * for after it.
 */
export async function completeJob(
  deps: ExecutorDeps,
  providerAccountId: string,
  jobId: string,
  attempt: number | undefined,
  take?: sql.ClaimTake,
): Promise<CompletedJob> {
  const change = completion(providerAccountId, attempt);
  const emptyTopic = take && deps.feed.knownEmptyTopic(take.holder);
  if (!take || emptyTopic) {
    const done = await transition(deps, jobId, change.scope, change);
    if (!take) return toJob(done);
    if (nothingNext(emptyTopic, done)) return completed(done, []);
    const mark = deps.feed.pendingMark();
    const rows = await takeNext(deps.db, providerAccountId, done.agent_id, take);
    tookNext(deps.feed, take, done.agent_id, mark, rows);
    return completed(done, rows);
  }
  let taken: JobRow[] = [];
  const mark = deps.feed.pendingMark();
  const done = await applyTransition(deps, jobId, change.scope, change, async (full) => {
    const result = await deps.completions.apply(jobId, change.scope, full, take);
    taken = result.taken;
    return result.done;
  });
  tookNext(deps.feed, take, done.agent_id, mark, taken);
  return completed(done, taken);
}

/**
 * Announces the job a completion took next; when there was none, lets the executor's next
 * poll of that agent wait without reading first (`ChangeFeed.foundNone`).
 */
export function tookNext(
  feed: ChangeFeed,
  take: sql.Take,
  agentId: string,
  mark: number,
  taken: JobRow[],
): void {
  for (const row of taken) announce(feed, row);
  if (taken.length === 0) feed.foundNone(topics.pendingOfAgent(agentId), take.holder, mark);
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
