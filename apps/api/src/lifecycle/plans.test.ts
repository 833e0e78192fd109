import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";
import { agentInput } from "../../test/harness.ts";
import { createKey } from "../accounts/service.ts";
import { upsertAgent } from "../agents/service.ts";
import type { Queryable } from "../db/types.ts";
import { completeAndTake, takePendingJobs } from "../executor/sql.ts";
import {
  renewLease,
  type Scope,
  singleChange,
  type TransitionChange,
  type TransitionShape,
  transitionJobs,
} from "./sql.ts";

/** A statement as the API sends it: its text and parameters. */
interface Sent {
  text: string;
  values: readonly unknown[];
}

let probes = 0;
/** A fresh name for a prepared statement (a failed test's may stay behind on its connection). */
const probeName = () => `plan_probe_${++probes}`;

/** A parameter as a SQL literal (EXECUTE takes its arguments in the statement's text). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number") return String(value);
  const text = Array.isArray(value)
    ? `{${value.map((item) => (item === null || item === undefined ? "NULL" : `"${String(item)}"`)).join(",")}}`
    : String(value);
  return `'${text.replaceAll("'", "''")}'`;
}

/** The statement's parameters as EXECUTE's arguments. */
const args = (statement: Sent) => statement.values.map(literal).join(", ");

/** The statements `run` sends, recorded instead of run (each answers no rows). */
async function sent(run: (db: Queryable) => Promise<unknown>): Promise<Sent[]> {
  const statements: Sent[] = [];
  await run({
    query: async (text, values = []) => {
      statements.push({ text, values });
      return { rows: [], rowCount: 0 };
    },
  });
  return statements;
}

/**
 * The plans of the hot statements of the lifecycle over a table shaped like a busy queue: many
 * finished jobs, a few running, a backlog of pending ones, statistics fresh. Each statement
 * must reach the jobs it changes by primary key (no scan of the whole table, no index keyed on
 * status, whose entries for past statuses pile up until vacuum), in its generic plan and in its
 * custom plans alike, so that the plan PostgreSQL keeps for the prepared statement is good and
 * is kept (not planned again for every call).
 */
describe("the lifecycle's statements find jobs by primary key whatever the statistics say", () => {
  let database: TestDatabase;
  let provider: string;
  let agent: string;
  let running: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    const { db } = database;
    const buyer = (await createKey(db, { role: "buyer", name: "buyer" })).account_id;
    provider = (await createKey(db, { role: "provider", name: "provider" })).account_id;
    agent = await upsertAgent(db, agentInput(provider));
    // Finished jobs, then a few running (leased), then a backlog of pending ones.
    const insert = (count: number, status: string, timestamp: string) =>
      db.query<{ job_id: string }>(
        `INSERT INTO jobs (agent_id, buyer_account_id, provider_account_id, prompt, params, status,
                           ${timestamp})
         SELECT $1, $2, $3, 'p', '{}', $4, now() FROM generate_series(1, ${count})
         RETURNING job_id`,
        [agent, buyer, provider, status],
      );
    await insert(3000, "completed", "completed_at");
    running = (await insert(3, "running", "lease_expires_at")).rows[0]?.job_id as string;
    await insert(300, "pending", "updated_at");
    await db.query("ANALYZE jobs");
  });
  afterAll(() => database.drop());

  /** The plan of `statement` prepared as the API prepares it, in one plan-cache mode. */
  async function plan(statement: Sent, mode: "force_generic_plan" | "force_custom_plan") {
    const name = probeName();
    return database.db.transaction(async (tx) => {
      await tx.exec(`SET LOCAL plan_cache_mode = ${mode}; PREPARE ${name} AS ${statement.text}`);
      const { rows } = await tx.query<{ "QUERY PLAN": string }>(
        `EXPLAIN EXECUTE ${name}(${args(statement)})`,
      );
      await tx.exec(`DEALLOCATE ${name}`);
      return rows.map((row) => row["QUERY PLAN"]).join("\n");
    });
  }

  /** Runs `statement` prepared ten times (changing nothing) and tells which plans it used. */
  async function planCache(statement: Sent) {
    const name = probeName();
    return database.db.transaction(async (tx) => {
      await tx.exec(`PREPARE ${name} AS ${statement.text}`);
      for (let i = 0; i < 10; i++) {
        await tx.query(`EXECUTE ${name}(${args(statement)})`);
      }
      const { rows } = await tx.query<{ generic: number; custom: number }>(
        `SELECT generic_plans::int AS generic, custom_plans::int AS custom
         FROM pg_prepared_statements WHERE name = $1`,
        [name],
      );
      await tx.exec(`DEALLOCATE ${name}`);
      return rows[0];
    });
  }

  /** The plans of `statement`, generic and custom. */
  async function plans(statement: Sent): Promise<[mode: string, text: string][]> {
    const modes = ["force_generic_plan", "force_custom_plan"] as const;
    return Promise.all(modes.map(async (mode) => [mode, await plan(statement, mode)] as const));
  }

  /** Reaches jobs by primary key only: no scan of the table, no index keyed on status. */
  function expectByPrimaryKey(text: string, what: string) {
    expect(text, what).toMatch(/jobs_pkey/);
    expect(text, what).not.toMatch(/Seq Scan on jobs\b/);
    expect(text, what).not.toMatch(/jobs_provider|jobs_pending|jobs_lease_due|jobs_run_due/);
  }

  /** A plan's `CTE name` block and the plan without it (its lines are indented deeper). */
  function cte(text: string, name: string): { block: string; rest: string } {
    const lines = text.split("\n");
    const start = lines.findIndex((line) => line.trim() === `CTE ${name}`);
    if (start < 0) return { block: "", rest: text };
    const indent = (line: string) => line.length - line.trimStart().length;
    let end = start + 1;
    while (end < lines.length && indent(lines[end] as string) > indent(lines[start] as string))
      end++;
    return {
      block: lines.slice(start + 1, end).join("\n"),
      rest: [...lines.slice(0, start), ...lines.slice(end)].join("\n"),
    };
  }

  /** A completion by the provider's executor. */
  const change = (): TransitionChange => ({
    to: "completed",
    from: ["running"],
    actor: "executor",
    actorAccountId: provider,
    attempt: 1,
    leaseSeconds: 60,
  });
  const scope = (): Scope => ({ kind: "provider", accountId: provider });
  /** One job's completion as the API batches it (`singleChange`). */
  const completion = (jobId: string) => singleChange(jobId, scope(), change());
  /** A batch of `size` completions of one shape, the first of `first`. */
  const completions = (size: number, first: string) => {
    const changes = Array.from({ length: size }, (_, i) =>
      completion(i === 0 ? first : randomUUID()),
    );
    return { shape: changes[0]?.shape as TransitionShape, items: changes.map((c) => c.item) };
  };

  it.each([1, 3])("a batch of %i completions, and the plan is prepared once", async (size) => {
    const batch = completions(size, running);
    const [statement] = await sent((db) => transitionJobs(db, batch.shape, batch.items));
    for (const [mode, text] of await plans(statement as Sent)) expectByPrimaryKey(text, mode);
    // Unknown jobs: the statement changes nothing, however often it runs.
    const unknown = completions(size, randomUUID());
    const [repeated] = await sent((db) => transitionJobs(db, unknown.shape, unknown.items));
    expect(await planCache(repeated as Sent), "five custom plans, then the generic one").toEqual({
      generic: 5,
      custom: 5,
    });
  });

  it.each([1, 3])(
    "%i completion(s) taking the next pending jobs in the same statement",
    async (size) => {
      const take = {
        kind: "start",
        holder: "exec:plans",
        leaseSeconds: 60,
        executorId: "plans",
      } as const;
      const batch = completions(size, running);
      const [statement] = await sent((db) =>
        completeAndTake(
          db,
          batch.shape,
          "start",
          batch.items.map((item) => ({ ...item, take })),
        ),
      );
      // The pending jobs are picked through an index of pending ones: alone, those no one holds
      // and the executor's own at once (`picked`); in a batch, those the executor holds (`own`)
      // through the index of reserved ones, the others (`free`) through either. The take then
      // finds what was picked by primary key.
      const picks: Record<string, RegExp> =
        size === 1
          ? { picked: /jobs_pending|jobs_provider/ }
          : { own: /jobs_reserved_due/, free: /jobs_pending|jobs_provider/ };
      for (const [mode, text] of await plans(statement as Sent)) {
        expectByPrimaryKey(cte(text, "done").block, `${mode}: the completion`);
        for (const [picked, index] of Object.entries(picks)) {
          const { block } = cte(text, picked);
          expect(block, `${mode}: ${picked}`).toMatch(index);
          expect(block, `${mode}: ${picked}`).not.toMatch(/Seq Scan on jobs\b/);
        }
        expectByPrimaryKey(cte(text, "taken").block, `${mode}: the take`);
      }
    },
  );

  it.each([
    { kind: "start", holder: "exec:plans", leaseSeconds: 60, executorId: "plans" },
    { kind: "reserve", holder: "exec:plans", seconds: 30 },
  ] as const)("a poll that takes pending jobs ($kind)", async (take) => {
    const [statement] = await sent((db) =>
      takePendingJobs(db, { providerAccountId: provider, agentId: agent, limit: 5 }, take),
    );
    for (const [mode, text] of await plans(statement as Sent)) {
      const { block: picked, rest: update } = cte(text, "picked");
      expect(picked, mode).toMatch(/jobs_pending|jobs_provider/);
      expectByPrimaryKey(update, `${mode}: the take`);
    }
  });

  it("a lease renewal", async () => {
    const [statement] = await sent((db) =>
      renewLease(db, running, provider, { from: ["running"], attempt: 1, leaseSeconds: 60 }),
    );
    for (const [mode, text] of await plans(statement as Sent)) expectByPrimaryKey(text, mode);
  });
});
