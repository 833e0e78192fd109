import { describe, expect, it } from "vitest";
import { useCountedApp } from "../../test/counted-app.ts";

describe("concurrent writes are batched", () => {
  // A slow database (every write takes 200 ms more): calls overlap as under load.
  const env = useCountedApp({ writeDelayMs: 200 });
  const { statements } = env;
  const N = 20;

  const call = (key: string, method: "GET" | "POST", url: string, payload?: object) =>
    env.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, payload });
  const count = (prefix: string) => statements.filter((sql) => sql.startsWith(prefix)).length;
  const events = async (jobId: string) =>
    (
      await env.database.db.query<{ to_status: string; actor_account_id: string }>(
        "SELECT to_status, actor_account_id FROM job_events WHERE job_id = $1 ORDER BY event_id",
        [jobId],
      )
    ).rows.map((row) => row.to_status);

  it("orders and transitions of different jobs share statements; each caller gets its own answer", async () => {
    // Read the key and the agent once, so that only the writes are left to count.
    await call(env.buyerKey, "GET", "/v1/jobs?limit=1");
    await call(env.providerKey, "GET", "/v1/executor/jobs?limit=1&claim=none");
    statements.length = 0;
    const orders = await Promise.all(
      Array.from({ length: N }, (_, n) =>
        call(env.buyerKey, "POST", "/v1/jobs", {
          agent_id: env.agentId,
          prompt: `job ${n}`,
          params: { language: "go" },
        }),
      ),
    );
    const jobs = orders.map((res) => {
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as { job_id: string; prompt: string };
    });
    expect(jobs.map((job) => job.prompt)).toEqual(Array.from({ length: N }, (_, n) => `job ${n}`));
    expect(new Set(jobs.map((job) => job.job_id)).size).toBe(N);
    const inserts = count("INSERT INTO jobs");
    expect(inserts).toBeGreaterThanOrEqual(1);
    expect(inserts).toBeLessThan(N);

    statements.length = 0;
    const accepts = await Promise.all(
      jobs.map((job) =>
        call(env.providerKey, "POST", `/v1/executor/jobs/${job.job_id}/status`, {
          status: "accepted",
        }),
      ),
    );
    for (const [n, res] of accepts.entries()) {
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ job_id: jobs[n]?.job_id, status: "accepted", attempt: 1 });
    }
    expect(count("UPDATE jobs")).toBeLessThan(N);
    for (const job of jobs) expect(await events(job.job_id)).toEqual(["pending", "accepted"]);
  });

  it("of racing calls for one job in one batch exactly one wins; the others are told why", async () => {
    const ordered = await call(env.buyerKey, "POST", "/v1/jobs", {
      agent_id: env.agentId,
      prompt: "raced",
      params: { language: "go" },
    });
    const jobId = ordered.json().job_id as string;
    const path = `/v1/executor/jobs/${jobId}`;
    expect(
      (await call(env.providerKey, "POST", `${path}/status`, { status: "accepted" })).statusCode,
    ).toBe(200);
    expect(
      (await call(env.providerKey, "POST", `${path}/status`, { status: "running", attempt: 1 }))
        .statusCode,
    ).toBe(200);
    const completes = await Promise.all(
      Array.from({ length: 10 }, () =>
        call(env.providerKey, "POST", `${path}/complete`, { attempt: 1 }),
      ),
    );
    const codes = completes.map((res) => res.statusCode).sort();
    expect(codes).toEqual([200, ...Array(9).fill(409)]);
    for (const res of completes.filter((r) => r.statusCode === 409)) {
      expect(res.json().code).toBe("INVALID_TRANSITION");
    }
    expect(await events(jobId)).toEqual(["pending", "accepted", "running", "completed"]);
  });
});
