import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";
import { agentInput } from "../../test/harness.ts";
import { createKey } from "../accounts/service.ts";
import { upsertAgent } from "../agents/service.ts";
import type { Tx } from "../db/types.ts";

interface EventRow {
  job_id: string;
  from_status: string | null;
  to_status: string;
  actor: string;
}

/**
 * The jobs triggers (migration 0013) write a statement's history and notifications once for
 * the whole statement, from its transition tables: a batch of orders or transitions costs one
 * trigger call, not one per job, and each job's events still read in lifecycle order.
 */
describe("a statement's history is written once per statement, in lifecycle order", () => {
  let database: TestDatabase;
  let ids: { buyer: string; provider: string; agent: string };
  beforeAll(async () => {
    database = await createTestDatabase();
    const buyer = await createKey(database.db, { role: "buyer", name: "b" });
    const provider = await createKey(database.db, { role: "provider", name: "p" });
    ids = {
      buyer: buyer.account_id,
      provider: provider.account_id,
      agent: await upsertAgent(database.db, agentInput(provider.account_id)),
    };
  });
  afterAll(() => database.drop());

  /**
   * Calls of the jobs trigger functions made by `run` in one transaction (the counts this
   * backend has not reported yet include earlier transactions': read before and after).
   */
  async function triggerCalls(run: (tx: Tx) => Promise<void>): Promise<Record<string, number>> {
    return database.db.transaction(async (tx) => {
      await tx.exec("SET LOCAL track_functions = 'pl'");
      const read = async () =>
        (
          await tx.query<{ funcname: string; calls: number }>(
            `SELECT funcname, calls::int AS calls FROM pg_stat_xact_user_functions
             WHERE funcname IN ('jobs_inserted', 'jobs_updated', 'jobs_changed', 'watched')`,
          )
        ).rows;
      const before = new Map((await read()).map((row) => [row.funcname, row.calls]));
      await run(tx);
      const calls: Record<string, number> = {};
      for (const row of await read()) {
        const made = row.calls - (before.get(row.funcname) ?? 0);
        if (made > 0) calls[row.funcname] = made;
      }
      return calls;
    });
  }

  const events = async (jobIds: string[]) =>
    (
      await database.db.query<EventRow>(
        `SELECT job_id, from_status, to_status, actor FROM job_events
         WHERE job_id = ANY ($1::uuid[]) ORDER BY event_id`,
        [jobIds],
      )
    ).rows;

  it("orders: five jobs, two of them handed straight to an executor and started", async () => {
    let inserted: string[] = [];
    const calls = await triggerCalls(async (tx) => {
      const { rows } = await tx.query<{ job_id: string }>(
        `INSERT INTO jobs (agent_id, buyer_account_id, provider_account_id, prompt, params, status,
                           changed_by, changed_by_account_id, accepted_at, started_at)
         SELECT $1, $2, $3, 'p', '{}', s.status,
                CASE WHEN s.status = 'pending' THEN 'buyer' ELSE 'executor' END,
                CASE WHEN s.status = 'pending' THEN $2::uuid ELSE $3::uuid END,
                CASE WHEN s.status <> 'pending' THEN now() END,
                CASE WHEN s.status = 'running' THEN now() END
         FROM unnest(ARRAY['pending', 'running', 'pending', 'accepted', 'running']) AS s (status)
         RETURNING job_id`,
        [ids.agent, ids.buyer, ids.provider],
      );
      inserted = rows.map((row) => row.job_id);
    });
    // Whether a process watches is asked once, for the three jobs that are not pending.
    expect(calls).toEqual({ jobs_inserted: 1, watched: 1 });
    const history = await events(inserted);
    const byJob = (jobId: string) =>
      history
        .filter((event) => event.job_id === jobId)
        .map((event) => `${event.from_status ?? "·"}→${event.to_status} (${event.actor})`);
    expect(inserted.map(byJob)).toEqual([
      ["·→pending (buyer)"],
      ["·→pending (buyer)", "pending→accepted (executor)", "accepted→running (executor)"],
      ["·→pending (buyer)"],
      ["·→pending (buyer)", "pending→accepted (executor)"],
      ["·→pending (buyer)", "pending→accepted (executor)", "accepted→running (executor)"],
    ]);
  });

  it("transitions: three claims straight to running and a lease renewal in one statement each", async () => {
    const { rows } = await database.db.query<{ job_id: string }>(
      `INSERT INTO jobs (agent_id, buyer_account_id, provider_account_id, prompt, params)
       SELECT $1, $2, $3, 'p', '{}' FROM generate_series(1, 3) RETURNING job_id`,
      [ids.agent, ids.buyer, ids.provider],
    );
    const jobIds = rows.map((row) => row.job_id);
    const calls = await triggerCalls(async (tx) => {
      await tx.query(
        `UPDATE jobs SET status = 'running', accepted_at = now(), started_at = now(),
                         changed_by = 'executor', changed_by_account_id = provider_account_id
         WHERE job_id = ANY ($1::uuid[])`,
        [jobIds],
      );
      // A renewal changes nothing the history records.
      await tx.query(
        "UPDATE jobs SET lease_expires_at = now() + interval '1 minute' WHERE job_id = ANY ($1::uuid[])",
        [jobIds],
      );
    });
    // Asked once, for the claims; the renewal has nothing to notify and does not ask.
    expect(calls).toEqual({ jobs_updated: 2, watched: 1 });
    const history = await events(jobIds);
    for (const jobId of jobIds) {
      expect(
        history
          .filter((event) => event.job_id === jobId)
          .map((event) => `${event.from_status ?? "·"}→${event.to_status}`),
      ).toEqual(["·→pending", "pending→accepted", "accepted→running"]);
    }
  });
});
