import { createHash, randomUUID } from "node:crypto";
import {
  type CreateJobRequest,
  isTerminal,
  type Job,
  type JobEvent,
  type JobList,
  type JobResult,
  type ListJobsQuery,
} from "@agnt/contract";
import type { AgentCache } from "../agents/order-cache.ts";
import type { OrderableAgent } from "../agents/service.ts";
import { Batcher } from "../db/batcher.ts";
import type { Queryable } from "../db/types.ts";
import { type ChangeFeed, topics, waitUntil } from "../events/feed.ts";
import { type FilesDeps, recordInputFiles, resultFiles } from "../files/service.ts";
import type { StoredFile } from "../files/upload.ts";
import { AppError } from "../http/problem.ts";
import { announce, jobNotFound, type LifecycleDeps, transition } from "../lifecycle/service.ts";
import { type JobRow, toJob } from "./model.ts";
import type { ParamsValidator } from "./params.ts";
import * as sql from "./sql.ts";

export interface JobsDeps extends LifecycleDeps {
  params: ParamsValidator;
  agents: AgentCache;
  /** Orders without files or idempotency key, inserted in batches (`sql.insertJobs`). */
  orders: Batcher<sql.NewJob, JobRow | undefined>;
  files: FilesDeps;
}

/**
 * Where a process's plain orders are batched (`JobsDeps.orders`). A job whose agent has an
 * executor's claiming poll waiting in this process is inserted already taken for that poll
 * and handed to it once committed (`ChangeFeed.promise`): no take, no wake-up, no second
 * statement. A poll that went away in between never learns of it: as with a take whose
 * answer is lost, the job comes back when its lease lapses.
 */
export function orderBatcher(
  db: Queryable,
  feed: ChangeFeed,
): Batcher<sql.NewJob, JobRow | undefined> {
  return new Batcher(async (jobs) => {
    const promised = jobs.map((job) => feed.promise(job));
    let rows: (JobRow | undefined)[];
    try {
      rows = await sql.insertJobs(
        db,
        jobs,
        promised.map((promise) => promise?.taker),
      );
    } catch (error) {
      for (const promise of promised) promise?.release();
      throw error;
    }
    for (const [i, promise] of promised.entries()) {
      const row = rows[i];
      if (row) promise?.deliver(row);
      else promise?.release();
    }
    return rows;
  });
}

/** JSON with object keys sorted, so equal requests hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function requestHash(request: CreateJobRequest, inputs: StoredFile[]): string {
  const files = inputs.map((f) => ({ path: f.path, size_bytes: f.sizeBytes, sha256: f.sha256 }));
  return createHash("sha256")
    .update(canonicalJson(inputs.length > 0 ? { ...request, files } : request))
    .digest("hex");
}

/** An order whose agent exists and whose params satisfy the agent's input schema. */
export interface PreparedOrder {
  agent: OrderableAgent;
  request: CreateJobRequest;
  /** The run timeout: the order's, else the agent's default. */
  timeoutSeconds: number | undefined;
}

/** Checks an order against its agent: params match its input schema, the timeout is allowed. */
function checkOrder(
  deps: JobsDeps,
  agent: OrderableAgent,
  request: CreateJobRequest,
): PreparedOrder {
  const errors = deps.params.validate(agent, request.params);
  if (errors.length > 0) {
    throw new AppError("PARAMS_INVALID", {
      detail: `params do not match the input schema of agent ${agent.slug}: ${errors
        .slice(0, 3)
        .map((e) => `${e.field} ${e.message}`)
        .join("; ")}${errors.length > 3 ? "; …" : ""}.`,
      errors,
    });
  }
  const timeout = request.timeout_seconds ?? agent.default_timeout_seconds ?? undefined;
  if (
    timeout !== undefined &&
    agent.max_timeout_seconds !== null &&
    timeout > agent.max_timeout_seconds
  ) {
    throw new AppError("TIMEOUT_NOT_ALLOWED", {
      detail: `timeout_seconds ${timeout} exceeds agent ${agent.slug}'s maximum of ${agent.max_timeout_seconds}.`,
    });
  }
  return { agent, request, timeoutSeconds: timeout };
}

/** Checks an order before anything is stored: the agent exists, params match its input schema. */
export async function prepareOrder(
  deps: JobsDeps,
  request: CreateJobRequest,
): Promise<PreparedOrder> {
  return checkOrder(deps, await deps.agents.get(request.agent_id), request);
}

/**
 * Writes a prepared order: the job and its input manifest in one transaction. With an
 * idempotency key, the key's claim is part of that transaction, so concurrent duplicates
 * produce one job; `replayed` tells whether an earlier job was returned instead.
 */
export async function placeOrder(
  deps: JobsDeps,
  buyerAccountId: string,
  order: PreparedOrder,
  options: { idempotencyKey?: string | undefined; jobId?: string; inputs?: StoredFile[] } = {},
): Promise<{ job: Job; replayed: boolean }> {
  const inputs = options.inputs ?? [];
  const jobId = options.jobId ?? randomUUID();
  /** Inserts the job (through `insert`), checking the agent again as long as it changes. */
  const insert = async (
    db: Queryable,
    one: (job: sql.NewJob) => Promise<JobRow | undefined>,
  ): Promise<JobRow> => {
    let checked = order;
    for (;;) {
      const row = await one({
        jobId,
        agentId: checked.agent.agent_id,
        agentVersion: checked.agent.version,
        buyerAccountId,
        providerAccountId: checked.agent.owner_account_id,
        prompt: checked.request.prompt,
        params: checked.request.params,
        timeoutSeconds: checked.timeoutSeconds,
        expiresInSeconds: checked.request.expires_in_seconds,
      });
      if (row) return row;
      // The agent changed since the order was checked (or is gone): check it again.
      checked = checkOrder(
        deps,
        await deps.agents.fresh(db, checked.agent.agent_id),
        order.request,
      );
    }
  };
  const key = options.idempotencyKey;
  if (key === undefined && inputs.length === 0) {
    // Alone, an order is one INSERT: batched with the orders placed at the same moment.
    const row = await insert(deps.db, (job) => deps.orders.submit(job));
    announce(deps.feed, row);
    return { job: toJob(row), replayed: false };
  }

  // In a transaction, a job promised to a waiting claiming poll is handed to it once committed.
  const promised = deps.feed.promise({
    agentId: order.agent.agent_id,
    providerAccountId: order.agent.owner_account_id,
  });
  const write = async (tx: Queryable) => {
    const taker = promised?.taker;
    const row = await insert(tx, async (job) => (await sql.insertJobs(tx, [job], [taker]))[0]);
    if (inputs.length === 0) return row;
    await recordInputFiles(tx, row.job_id, inputs);
    return (await sql.findBuyerJob(tx, buyerAccountId, row.job_id)) as JobRow;
  };
  let outcome: { row: JobRow; replayed: boolean };
  try {
    outcome = await deps.db.transaction(async (tx) => {
      if (key === undefined) return { row: await write(tx), replayed: false };
      const hash = requestHash(order.request, inputs);
      if (await sql.claimIdempotencyKey(tx, { buyerAccountId, key, requestHash: hash })) {
        const row = await write(tx);
        await sql.attachIdempotencyKey(tx, { buyerAccountId, key, jobId: row.job_id });
        return { row, replayed: false };
      }
      const existing = await sql.findIdempotencyKey(tx, buyerAccountId, key);
      if (!existing?.job_id || existing.request_hash !== hash) {
        throw new AppError("IDEMPOTENCY_KEY_REUSED", {
          detail: "This Idempotency-Key was used in the last 24 hours with a different request.",
        });
      }
      const row = await sql.findBuyerJob(tx, buyerAccountId, existing.job_id);
      return { row: row as JobRow, replayed: true };
    });
  } catch (error) {
    promised?.release();
    throw error;
  }
  if (outcome.replayed) promised?.release();
  else {
    promised?.deliver(outcome.row);
    announce(deps.feed, outcome.row);
  }
  return { job: toJob(outcome.row), replayed: outcome.replayed };
}

/** Orders a job from a JSON body (no input files). */
export async function createJob(
  deps: JobsDeps,
  buyerAccountId: string,
  request: CreateJobRequest,
  idempotencyKey: string | undefined,
): Promise<{ job: Job; replayed: boolean }> {
  return placeOrder(deps, buyerAccountId, await prepareOrder(deps, request), { idempotencyKey });
}

/** One of the buyer's jobs, or JOB_NOT_FOUND (another buyer's job looks exactly the same). */
export async function requireBuyerJob(
  db: Queryable,
  buyerAccountId: string,
  jobId: string,
): Promise<JobRow> {
  const row = await sql.findBuyerJob(db, buyerAccountId, jobId);
  if (!row) throw jobNotFound(jobId);
  return row;
}

/** One of the buyer's jobs; with `waitSeconds`, held until it is finished or the time passes. */
export async function getJob(
  deps: JobsDeps,
  buyerAccountId: string,
  jobId: string,
  waitSeconds: number,
  signal: AbortSignal,
): Promise<Job> {
  const row = await waitUntil({
    feed: deps.feed,
    topics: [topics.job(jobId)],
    waitMs: waitSeconds * 1000,
    signal,
    read: () => requireBuyerJob(deps.db, buyerAccountId, jobId),
    ready: (job) => isTerminal(job.status),
  });
  return toJob(row);
}

export async function listJobs(
  deps: JobsDeps,
  buyerAccountId: string,
  query: ListJobsQuery,
): Promise<JobList> {
  const filter = { buyerAccountId, agentId: query.agent_id, statuses: query.status };
  const [rows, total] = await Promise.all([
    sql.listBuyerJobs(deps.db, filter, { limit: query.limit, offset: query.offset }),
    sql.countBuyerJobs(deps.db, filter),
  ]);
  return { jobs: rows.map(toJob), total };
}

export async function cancelJob(
  deps: JobsDeps,
  buyerAccountId: string,
  jobId: string,
  reason: string | undefined,
): Promise<Job> {
  const row = await transition(
    deps,
    jobId,
    { kind: "buyer", accountId: buyerAccountId },
    {
      to: "canceled",
      actor: "buyer",
      actorAccountId: buyerAccountId,
      reason: reason ?? "Canceled by the buyer.",
    },
  );
  return toJob(row);
}

/** The result of a completed job: its file manifest. */
export async function getResult(
  deps: JobsDeps,
  buyerAccountId: string,
  jobId: string,
): Promise<JobResult> {
  const job = await requireBuyerJob(deps.db, buyerAccountId, jobId);
  if (job.status !== "completed") {
    throw new AppError("RESULT_NOT_READY", {
      detail: `Job ${jobId} is ${job.status}; a result exists once it is completed.`,
    });
  }
  return {
    job_id: job.job_id,
    status: job.status,
    files: await resultFiles(deps.db, deps.files, jobId),
  };
}

/** Up to `limit` recorded changes of a job after `afterEventId`, oldest first. */
export function jobEventsAfter(
  db: Queryable,
  jobId: string,
  afterEventId: number,
  limit: number,
): Promise<JobEvent[]> {
  return sql.listJobEvents(db, jobId, afterEventId, limit);
}

/** Deletes idempotency keys older than 24 hours (they no longer protect anything). */
export function forgetExpiredIdempotencyKeys(db: Queryable): Promise<number> {
  return sql.deleteExpiredIdempotencyKeys(db);
}
