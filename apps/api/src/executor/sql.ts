import type { Actor, JobStatus } from "@agnt/contract";
import { lit } from "../db/sql-literals.ts";
import type { Queryable } from "../db/types.ts";
import { JOB_COLUMNS, type JobRow } from "../jobs/model.ts";
import {
  acceptedSets,
  type TransitionItem,
  type TransitionShape,
  transitionUpdate,
  type ValueColumn,
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
  const picked = oldestPending(
    "j.job_id",
    `j.provider_account_id = ${provider} ${agent ? `AND j.agent_id = ${agent}` : ""}
         AND (j.reserved_until IS NULL OR j.reserved_until <= now() OR j.reserved_by = ${holder})`,
    params.add(limit),
  );
  if (take.kind === "reserve") {
    const seconds = params.add(take.seconds);
    return {
      picked,
      update: `UPDATE jobs SET reserved_until = now() + make_interval(secs => ${seconds}::float8),
         reserved_by = ${holder}
     WHERE jobs.job_id = ANY (ARRAY(SELECT job_id FROM picked))`,
    };
  }
  return {
    picked,
    update: `UPDATE jobs SET ${claimSets(take.kind, provider)}
     FROM (SELECT ${params.add(take.leaseSeconds)}::float8 AS v_lease_secs,
                  ${params.add(take.executorId)}::text AS v_executor) v
     WHERE jobs.job_id = ANY (ARRAY(SELECT job_id FROM picked))`,
  };
}

/**
 * The oldest pending jobs (`jobs j`) meeting `where`, up to `limit`, locked for the statement
 * that takes them; rows another statement is taking are skipped.
 */
function oldestPending(columns: string, where: string, limit: string): string {
  return `SELECT ${columns} FROM jobs j
       WHERE j.status = ${lit("pending" satisfies JobStatus)} AND ${where}
       ORDER BY j.created_at, j.job_id
       LIMIT ${limit}
       FOR UPDATE SKIP LOCKED`;
}

/**
 * What a claim sets on the jobs it takes (`v`: their `v_lease_secs` and `v_executor`):
 * accepted, or accepted and started, by the executor of `provider` (a SQL expression).
 */
function claimSets(kind: ClaimTake["kind"], provider: string): string {
  const started = kind === "start";
  return `status = ${lit(started ? "running" : "accepted")}, ${acceptedSets(started ? "now()" : "NULL")},
         updated_at = now(), changed_by = ${lit("executor" satisfies Actor)},
         changed_by_account_id = ${provider}`;
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

/** One completion of a batch that also takes the next job (`completeAndTake`). */
export type CompletionItem = TransitionItem & {
  /** How its executor takes the next job (all of a batch take the same way). */
  take: ClaimTake;
};

/** What `completeAndTake` carries along with each completion: how its executor takes. */
const TAKE_VALUES = [
  ["t_holder", "text", (item) => item.take.holder],
  ["t_lease", "float8", (item) => item.take.leaseSeconds],
  ["t_executor", "text", (item) => item.take.executorId],
] as const satisfies readonly ValueColumn<CompletionItem>[];

/** What `completeAndTake` answers per completion. */
export type CompletedAndTaken = { done: JobRow | undefined; taken: JobRow[] };

/**
 * Completes running jobs of providers (`transitionUpdate`'s batch of one shape) and, in the
 * same statement, takes for each completion's executor a next pending job of the same agent,
 * accepted or started (`kind`), as a claiming poll would. A completion alone takes the oldest
 * job its executor may (one no one holds, or its own), as a poll's take does. Several share
 * jobs out: each takes the oldest its executor holds (`own`) or else, in the completions'
 * order, the next oldest no one holds or whose reservation lapsed (`free`). `FOR UPDATE SKIP
 * LOCKED`: never a job another statement is taking, never one twice. Nothing is taken for a
 * completion that does not apply. Returns, per item in order, the completed job (undefined:
 * nothing matched) and what it took.
 */
export async function completeAndTake(
  db: Queryable,
  shape: TransitionShape,
  kind: ClaimTake["kind"],
  items: readonly CompletionItem[],
): Promise<CompletedAndTaken[]> {
  // Alone (always so on the embedded database, which runs one statement at a time): the
  // simpler statement, which costs less than sharing out among one.
  if (items.length === 1) return [await completeAndTakeOne(db, shape, items[0] as CompletionItem)];
  const complete = transitionUpdate(shape, items, TAKE_VALUES);
  // The oldest pending jobs of the agent of `owner` (a row of done or wanted) that are `held`.
  const oldest = (owner: string, held: string, limit: string) =>
    oldestPending(
      "j.job_id, j.agent_id, j.created_at",
      `j.provider_account_id = ${owner}.provider_account_id AND j.agent_id = ${owner}.agent_id
         AND ${held}`,
      limit,
    );
  const none = "NULL::text AS t_holder, NULL::float8 AS t_lease, NULL::text AS t_executor";
  type Row = JobRow & { done: boolean; ord: number } & Record<`t_${string}`, unknown>;
  const { rows } = await db.query<Row>(
    `WITH done AS (${complete.text}
       RETURNING v.v_ord AS ord, v.t_holder, v.t_lease, v.t_executor, ${JOB_COLUMNS}),
     own AS (
       SELECT DISTINCT ON (p.job_id) d.ord, p.job_id
       FROM done d CROSS JOIN LATERAL (
         ${oldest("d", "j.reserved_by = d.t_holder AND j.reserved_until > now()", "1")}) p
       ORDER BY p.job_id, d.ord),
     rest AS (
       SELECT d.ord, d.provider_account_id, d.agent_id,
              row_number() OVER (PARTITION BY d.agent_id ORDER BY d.ord) AS rank
       FROM done d WHERE d.ord NOT IN (SELECT ord FROM own)),
     wanted AS (
       SELECT provider_account_id, agent_id, count(*) AS n FROM rest
       GROUP BY provider_account_id, agent_id),
     free AS (
       SELECT p.job_id, p.agent_id,
              row_number() OVER (PARTITION BY p.agent_id ORDER BY p.created_at, p.job_id) AS rank
       FROM wanted w CROSS JOIN LATERAL (
         ${oldest("w", "(j.reserved_until IS NULL OR j.reserved_until <= now())", "w.n")}) p),
     picked AS (
       SELECT d.ord, d.t_lease AS v_lease_secs, d.t_executor AS v_executor,
              d.provider_account_id AS v_provider, x.job_id AS v_job
       FROM (SELECT ord, job_id FROM own
             UNION ALL
             SELECT r.ord, f.job_id FROM rest r
             JOIN free f ON f.agent_id = r.agent_id AND f.rank = r.rank) x
       JOIN done d ON d.ord = x.ord),
     taken AS (
       UPDATE jobs SET ${claimSets(kind, "v.v_provider")}
       FROM picked v
       WHERE jobs.job_id = ANY (ARRAY(SELECT v_job FROM picked)) AND jobs.job_id = v.v_job
       RETURNING v.ord, ${none}, ${JOB_COLUMNS})
     SELECT true AS done, * FROM done
     UNION ALL
     SELECT false AS done, * FROM taken`,
    complete.values,
    { prepare: true },
  );
  const results = items.map(() => ({
    done: undefined as JobRow | undefined,
    taken: [] as JobRow[],
  }));
  for (const { done, ord, t_holder: _h, t_lease: _l, t_executor: _e, ...row } of rows) {
    const result = results[ord] as CompletedAndTaken;
    if (done) result.done = row;
    else result.taken.push(row);
  }
  return results;
}

/** `completeAndTake` of one completion: its take is `takePendingJobs`' with limit 1. */
async function completeAndTakeOne(
  db: Queryable,
  shape: TransitionShape,
  item: CompletionItem,
): Promise<CompletedAndTaken> {
  const complete = transitionUpdate(shape, [item]);
  const params = new Params(complete.values);
  const provider = params.add(item.accountId);
  const { picked, update } = takeSql(params, provider, "(SELECT agent_id FROM done)", 1, item.take);
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
  return { done: done && strip(done), taken: rows.filter((row) => !row.done).map(strip) };
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
