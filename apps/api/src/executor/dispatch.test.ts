import { describe, expect, it } from "vitest";
import { useTestEnv } from "../../test/harness.ts";

describe("dispatch under contention", () => {
  const env = useTestEnv();

  /**
   * 8 executor loops drain 1,000 pending jobs, 10 per poll. With reservations (the default)
   * each poll is handed jobs no other poll holds: no accept loses. With `claim=none` every
   * loop sees the same oldest jobs and they race: exactly-once still holds. With `claim=start`
   * each poll accepts and starts its jobs itself.
   */
  it.each([
    ["reserved (no race)", "", "reserve"],
    ["looked at without reserving (racing)", "&claim=none", "none"],
    ["accepted and started by the poll", "&claim=start", "start"],
  ] as const)(
    "1,000 pending jobs and 8 concurrent executor loops, %s: every job accepted exactly once, none lost",
    async (_, claimQuery, claim) => {
      const agentId = await env.addAgent();
      // Orders written straight into the table (the API's order path is tested elsewhere); the
      // trigger records their creation events as usual.
      await env.database.db.query(
        `INSERT INTO jobs (agent_id, buyer_account_id, provider_account_id, prompt, params, created_at)
       SELECT $1, $2, $3, 'job ' || n, '{"language":"go"}', now() + n * interval '1 microsecond'
       FROM generate_series(1, 1000) AS n`,
        [agentId, env.buyer.accountId, env.provider.accountId],
      );
      const won: string[][] = [];
      let conflicts = 0;
      const loop = async (executor: number) => {
        const mine: string[] = [];
        won[executor] = mine;
        for (;;) {
          const page = await env.call(
            "GET",
            `/v1/executor/jobs?agent_id=${agentId}&limit=10${claimQuery}`,
            {
              key: env.provider.key,
              headers: { "agnt-executor-id": `loop-${executor}` },
            },
          );
          expect(page.status).toBe(200);
          if (page.body.jobs.length === 0) return;
          for (const job of page.body.jobs) {
            if (claim === "start") {
              // The poll accepted and started it: only this loop holds it.
              expect(job.status).toBe("running");
            } else {
              const accept = await env.call("POST", `/v1/executor/jobs/${job.job_id}/status`, {
                key: env.provider.key,
                body: { status: "accepted" },
              });
              if (accept.status === 409) {
                conflicts += 1;
                continue;
              }
              expect(accept.status, accept.text).toBe(200);
              const running = await env.call("POST", `/v1/executor/jobs/${job.job_id}/status`, {
                key: env.provider.key,
                body: { status: "running", attempt: 1 },
              });
              expect(running.status, running.text).toBe(200);
            }
            mine.push(job.job_id);
            const done = await env.call("POST", `/v1/executor/jobs/${job.job_id}/complete`, {
              key: env.provider.key,
              body: { attempt: 1 },
            });
            expect(done.status, done.text).toBe(200);
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, i) => loop(i)));

      const accepted = won.flat();
      if (claim === "none") expect(conflicts).toBeGreaterThan(0);
      else expect(conflicts).toBe(0);
      expect(accepted).toHaveLength(1000);
      expect(new Set(accepted).size).toBe(1000);
      expect(won.filter((list) => list.length > 0).length).toBeGreaterThan(1);
      const { rows } = await env.database.db.query<{
        accepts: number;
        jobs: number;
        pending: number;
      }>(
        `SELECT (SELECT count(*)::int FROM job_events e JOIN jobs j USING (job_id)
                WHERE j.agent_id = $1 AND e.to_status = 'accepted') AS accepts,
              (SELECT count(*)::int FROM jobs WHERE agent_id = $1) AS jobs,
              (SELECT count(*)::int FROM jobs WHERE agent_id = $1 AND status = 'pending') AS pending`,
        [agentId],
      );
      expect(rows[0]).toEqual({ accepts: 1000, jobs: 1000, pending: 0 });
      const completed = await env.database.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM jobs WHERE agent_id = $1 AND status = 'completed'",
        [agentId],
      );
      expect(completed.rows[0]?.n).toBe(1000);
    },
    180_000,
  );
});
