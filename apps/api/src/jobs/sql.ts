import type { Actor, JobEvent, JobStatus } from "@agnt/contract";
import { batchSource } from "../db/batcher.ts";
import { lit } from "../db/sql-literals.ts";
import type { Queryable } from "../db/types.ts";
import type { Taker } from "../events/feed.ts";
import { JOB_COLUMNS, type JobRow } from "./model.ts";

export interface NewJob {
  /** The job's id (inputs are stored under it before the row exists). */
  jobId: string;
  agentId: string;
  /** The agent's row version (`xmin`) the order was checked against. */
  agentVersion: string;
  buyerAccountId: string;
  providerAccountId: string;
  prompt: string;
  params: Record<string, unknown>;
  timeoutSeconds?: number | undefined;
  expiresInSeconds?: number | undefined;
}

/**
 * Inserts jobs in one statement, each only if its agent is still at the version its order was
 * checked against: pending, or, with a taker at its index in `takers`, already accepted (or
 * accepted and started) for that executor, with its lease and run deadline, as a claiming
 * poll's take leaves a job (the jobs_inserted trigger records it as pending, then taken).
 * Returns, per job in order, its row, or undefined when its agent changed (or is gone) since.
 */
export async function insertJobs(
  db: Queryable,
  jobs: readonly NewJob[],
  takers: readonly (Taker | undefined)[] = [],
): Promise<(JobRow | undefined)[]> {
  const source = batchSource(jobs, 1, [
    ["job", "uuid", (job) => job.jobId],
    ["agent", "uuid", (job) => job.agentId],
    ["version", "text", (job) => job.agentVersion],
    ["buyer", "uuid", (job) => job.buyerAccountId],
    ["provider", "uuid", (job) => job.providerAccountId],
    ["prompt", "text", (job) => job.prompt],
    ["params", "text", (job) => JSON.stringify(job.params)],
    ["timeout", "int", (job) => job.timeoutSeconds],
    ["expires", "int", (job) => job.expiresInSeconds],
    ["claim", "text", (_, i) => takers[i]?.kind],
    ["lease", "float8", (_, i) => takers[i]?.leaseSeconds],
    ["executor", "text", (_, i) => takers[i]?.executorId],
  ]);
  const taken = "v.claim IS NOT NULL";
  const start = lit("start" satisfies Taker["kind"]);
  const { rows } = await db.query<JobRow>(
    `INSERT INTO jobs (job_id, agent_id, buyer_account_id, provider_account_id, prompt, params,
                       timeout_seconds, expires_at, changed_by, changed_by_account_id, status,
                       accepted_at, started_at, lease_expires_at, run_deadline_at, executor_id)
     SELECT v.job, v.agent, v.buyer, v.provider, v.prompt, v.params::jsonb, v.timeout,
            now() + make_interval(secs => v.expires),
            CASE WHEN ${taken} THEN ${lit("executor" satisfies Actor)} ELSE ${lit("buyer" satisfies Actor)} END,
            CASE WHEN ${taken} THEN v.provider ELSE v.buyer END,
            CASE v.claim WHEN ${start} THEN ${lit("running" satisfies JobStatus)}
                         WHEN ${lit("accept" satisfies Taker["kind"])} THEN ${lit("accepted" satisfies JobStatus)}
                         ELSE ${lit("pending" satisfies JobStatus)} END,
            CASE WHEN ${taken} THEN now() END, CASE WHEN v.claim = ${start} THEN now() END,
            now() + make_interval(secs => v.lease),
            CASE WHEN ${taken} THEN now() + make_interval(secs => v.timeout) END, v.executor
     FROM ${source.sql}
     JOIN agents a ON a.agent_id = v.agent AND a.xmin = v.version::xid
     RETURNING ${JOB_COLUMNS}`,
    source.values,
    { prepare: true },
  );
  const byId = new Map(rows.map((row) => [row.job_id, row]));
  return jobs.map((job) => byId.get(job.jobId));
}

/** A job of this buyer; another buyer's job is indistinguishable from no job. */
export async function findBuyerJob(
  db: Queryable,
  buyerAccountId: string,
  jobId: string,
): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs WHERE job_id = $1 AND buyer_account_id = $2`,
    [jobId, buyerAccountId],
    { prepare: true },
  );
  return rows[0];
}

export interface BuyerJobFilter {
  buyerAccountId: string;
  agentId?: string | undefined;
  statuses?: JobStatus[] | undefined;
}

function buyerWhere(filter: BuyerJobFilter): { where: string; params: unknown[] } {
  const params: unknown[] = [filter.buyerAccountId];
  const clauses = ["buyer_account_id = $1"];
  if (filter.agentId) {
    params.push(filter.agentId);
    clauses.push(`agent_id = $${params.length}`);
  }
  if (filter.statuses?.length) {
    params.push(filter.statuses);
    clauses.push(`status = ANY($${params.length}::text[])`);
  }
  return { where: clauses.join(" AND "), params };
}

/** The buyer's jobs, newest first, job_id breaking ties. */
export async function listBuyerJobs(
  db: Queryable,
  filter: BuyerJobFilter,
  page: { limit: number; offset: number },
): Promise<JobRow[]> {
  const { where, params } = buyerWhere(filter);
  params.push(page.limit, page.offset);
  const { rows } = await db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs WHERE ${where}
     ORDER BY created_at DESC, job_id DESC
     LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
    { prepare: true },
  );
  return rows;
}

export async function countBuyerJobs(db: Queryable, filter: BuyerJobFilter): Promise<number> {
  const { where, params } = buyerWhere(filter);
  const { rows } = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM jobs WHERE ${where}`,
    params,
    { prepare: true },
  );
  return rows[0]?.total ?? 0;
}

export interface IdempotencyRow {
  request_hash: string;
  job_id: string | null;
}

/**
 * Claims an idempotency key for this request. Returns true when the key is new (or its
 * previous use is older than 24 hours); false when a live claim exists. A concurrent claim of
 * the same key waits here until the first transaction ends.
 */
export async function claimIdempotencyKey(
  db: Queryable,
  claim: { buyerAccountId: string; key: string; requestHash: string },
): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO idempotency_keys (buyer_account_id, key, request_hash)
     VALUES ($1, $2, $3)
     ON CONFLICT (buyer_account_id, key) DO UPDATE
       SET request_hash = EXCLUDED.request_hash, job_id = NULL, created_at = now()
       WHERE idempotency_keys.created_at < now() - interval '24 hours'
     RETURNING key`,
    [claim.buyerAccountId, claim.key, claim.requestHash],
    { prepare: true },
  );
  return rows.length === 1;
}

export async function findIdempotencyKey(
  db: Queryable,
  buyerAccountId: string,
  key: string,
): Promise<IdempotencyRow | undefined> {
  const { rows } = await db.query<IdempotencyRow>(
    "SELECT request_hash, job_id FROM idempotency_keys WHERE buyer_account_id = $1 AND key = $2",
    [buyerAccountId, key],
    { prepare: true },
  );
  return rows[0];
}

export async function attachIdempotencyKey(
  db: Queryable,
  claim: { buyerAccountId: string; key: string; jobId: string },
): Promise<void> {
  await db.query(
    "UPDATE idempotency_keys SET job_id = $3 WHERE buyer_account_id = $1 AND key = $2",
    [claim.buyerAccountId, claim.key, claim.jobId],
    { prepare: true },
  );
}

/** Forgets idempotency keys past their 24 hours; returns how many. */
export async function deleteExpiredIdempotencyKeys(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    "DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'",
  );
  return rowCount;
}

/** A job's recorded changes after `afterEventId`, oldest first. */
export async function listJobEvents(
  db: Queryable,
  jobId: string,
  afterEventId: number,
  limit: number,
): Promise<JobEvent[]> {
  const { rows } = await db.query<
    Omit<JobEvent, "at" | "event_id"> & { at: Date; event_id: string }
  >(
    `SELECT e.event_id::text AS event_id, job_id, attempt, from_status, to_status, actor, progress,
            message, reason, failure_code, at
     FROM job_events e WHERE e.job_id = $1 AND e.event_id > $2 ORDER BY e.event_id LIMIT $3`,
    [jobId, afterEventId, limit],
    { prepare: true },
  );
  return rows.map((row) => ({ ...row, event_id: Number(row.event_id), at: row.at.toISOString() }));
}
