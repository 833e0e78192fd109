import { beforeAll, describe, expect, it } from "vitest";
import { orderJob, setStatus, type TestEnv, useTestEnv } from "../../test/harness.ts";

const COUNT_FIELDS = [
  "total_jobs",
  "active_jobs",
  "completed_jobs",
  "failed_jobs",
  "rejected_jobs",
  "canceled_jobs",
] as const;

async function ok(promise: ReturnType<TestEnv["call"]>) {
  const response = await promise;
  expect(response.status, response.text).toBe(200);
  return response.body;
}

/** A job of `agentId`, driven as far as `to`; returns its id. */
async function jobIn(env: TestEnv, agentId: string, to: string, failureCode?: string) {
  const job = await orderJob(env, { agent_id: agentId });
  const id: string = job.job_id;
  const cancel = () =>
    ok(env.call("POST", `/v1/jobs/${id}/cancel`, { key: env.buyer.key, body: { reason: "no" } }));
  if (to === "pending") return id;
  if (to === "canceled-pending") {
    await cancel();
    return id;
  }
  if (to === "rejected") {
    await ok(setStatus(env, id, { status: "rejected", reason: "busy" }));
    return id;
  }
  await ok(setStatus(env, id, { status: "accepted" }));
  if (to === "accepted") return id;
  if (to === "failed") {
    await ok(
      setStatus(env, id, {
        status: "failed",
        attempt: 1,
        reason: "boom",
        failure_code: failureCode,
      }),
    );
    return id;
  }
  await ok(setStatus(env, id, { status: "running", attempt: 1 }));
  if (to === "running") return id;
  if (to === "canceled-running") {
    await cancel();
    return id;
  }
  await ok(
    env.call("POST", `/v1/executor/jobs/${id}/complete`, {
      key: env.provider.key,
      body: { attempt: 1 },
    }),
  );
  return id;
}

/** Sets a job's timestamps to `base` plus the given offsets in seconds. */
async function setTimes(
  env: TestEnv,
  jobId: string,
  times: { started: number | null; completed: number | null },
) {
  await env.database.db.query(
    `UPDATE jobs SET
       created_at = '2025-01-01T00:00:00Z'::timestamptz,
       started_at = '2025-01-01T00:00:00Z'::timestamptz + make_interval(secs => $2::float8),
       completed_at = '2025-01-01T00:00:00Z'::timestamptz + make_interval(secs => $3::float8)
     WHERE job_id = $1`,
    [jobId, times.started, times.completed],
  );
}

describe("GET /v1/agents/{agent_id}/stats", () => {
  const env = useTestEnv();
  const stats = (agentId: string) =>
    env.call("GET", `/v1/agents/${agentId}/stats`, { key: env.buyer.key });

  describe("with a known set of jobs", () => {
    let agentId: string;

    beforeAll(async () => {
      agentId = await env.addAgent();
      // Turnaround (created → completed) and run time (started → completed), in seconds.
      const completed: [number, number][] = [
        [10, 5],
        [20, 10],
        [30, 15],
        [100, 50],
      ];
      for (const [turnaround, run] of completed) {
        const id = await jobIn(env, agentId, "completed");
        await setTimes(env, id, { started: turnaround - run, completed: turnaround });
      }
      // Finished without success, with huge durations: timings must leave them out.
      const failed = await jobIn(env, agentId, "failed", "timed_out");
      await setTimes(env, failed, { started: 1, completed: 10_000 });
      const rejected = await jobIn(env, agentId, "rejected");
      await setTimes(env, rejected, { started: null, completed: 20_000 });
      const canceledPending = await jobIn(env, agentId, "canceled-pending");
      await setTimes(env, canceledPending, { started: null, completed: 30_000 });
      const canceledRunning = await jobIn(env, agentId, "canceled-running");
      await setTimes(env, canceledRunning, { started: 2, completed: 40_000 });
      await jobIn(env, agentId, "pending");
      await jobIn(env, agentId, "accepted");
      await jobIn(env, agentId, "running");
      // Jobs of other agents do not count.
      await jobIn(env, env.agentId, "completed");
      await jobIn(env, env.agentId, "failed");
    });

    it("checks that the fixture has the intended statuses", async () => {
      const { rows } = await env.database.db.query<{ status: string; n: number }>(
        "SELECT status, count(*)::int AS n FROM jobs WHERE agent_id = $1 GROUP BY status ORDER BY status",
        [agentId],
      );
      expect(rows).toEqual([
        { status: "accepted", n: 1 },
        { status: "canceled", n: 2 },
        { status: "completed", n: 4 },
        { status: "failed", n: 1 },
        { status: "pending", n: 1 },
        { status: "rejected", n: 1 },
        { status: "running", n: 1 },
      ]);
    });

    it("counts jobs by status", async () => {
      const body = await ok(stats(agentId));
      expect(body).toMatchObject({
        agent_id: agentId,
        total_jobs: 11,
        active_jobs: 3,
        completed_jobs: 4,
        failed_jobs: 1,
        rejected_jobs: 1,
        canceled_jobs: 2,
      });
      for (const field of COUNT_FIELDS) {
        expect(Number.isInteger(body[field]), field).toBe(true);
      }
    });

    it("computes success_rate over completed, failed and rejected only", async () => {
      const body = await ok(stats(agentId));
      expect(body.success_rate).toBeCloseTo(4 / 6, 10);
    });

    it("computes the turnaround of completed jobs: mean, p50 and p95", async () => {
      const body = await ok(stats(agentId));
      expect(body.avg_duration_seconds).toBeCloseTo(40, 6);
      // percentile_cont over [10, 20, 30, 100]: 20 + 0.5 × 10 and 30 + 0.85 × 70.
      expect(body.p50_duration_seconds).toBeCloseTo(25, 6);
      expect(body.p95_duration_seconds).toBeCloseTo(89.5, 6);
    });

    it("computes the mean run time of completed jobs", async () => {
      const body = await ok(stats(agentId));
      expect(body.avg_run_seconds).toBeCloseTo(20, 6);
    });

    it("returns exactly the contract's fields, numbers as JSON numbers", async () => {
      const body = await ok(stats(agentId));
      expect(Object.keys(body).sort()).toEqual(
        [
          "agent_id",
          "executors_online",
          ...COUNT_FIELDS,
          "success_rate",
          "avg_duration_seconds",
          "p50_duration_seconds",
          "p95_duration_seconds",
          "avg_run_seconds",
        ].sort(),
      );
      for (const [field, value] of Object.entries(body)) {
        if (field !== "agent_id") expect(typeof value, field).toBe("number");
      }
    });
  });

  it("reports zeros and nulls for an agent without jobs", async () => {
    const agentId = await env.addAgent();
    const body = await ok(stats(agentId));
    expect(body).toEqual({
      agent_id: agentId,
      executors_online: 0,
      total_jobs: 0,
      active_jobs: 0,
      completed_jobs: 0,
      failed_jobs: 0,
      rejected_jobs: 0,
      canceled_jobs: 0,
      success_rate: null,
      avg_duration_seconds: null,
      p50_duration_seconds: null,
      p95_duration_seconds: null,
      avg_run_seconds: null,
    });
  });

  it("has no success_rate or timings while no job has been decided", async () => {
    const agentId = await env.addAgent();
    await jobIn(env, agentId, "pending");
    await jobIn(env, agentId, "running");
    await jobIn(env, agentId, "canceled-pending");
    const body = await ok(stats(agentId));
    expect(body).toMatchObject({
      total_jobs: 3,
      active_jobs: 2,
      completed_jobs: 0,
      canceled_jobs: 1,
      success_rate: null,
      avg_duration_seconds: null,
      p50_duration_seconds: null,
      p95_duration_seconds: null,
      avg_run_seconds: null,
    });
  });

  it("has success_rate 0 when every decided job failed or was rejected", async () => {
    const agentId = await env.addAgent();
    await jobIn(env, agentId, "failed");
    await jobIn(env, agentId, "rejected");
    const body = await ok(stats(agentId));
    expect(body).toMatchObject({ total_jobs: 2, failed_jobs: 1, rejected_jobs: 1 });
    expect(body.success_rate).toBe(0);
    expect(body.avg_duration_seconds).toBeNull();
  });

  it("uses the API's own timestamps for a job it ran", async () => {
    const agentId = await env.addAgent();
    const id = await jobIn(env, agentId, "completed");
    const { rows } = await env.database.db.query<{ turnaround: number; run: number }>(
      `SELECT extract(epoch FROM completed_at - created_at)::float8 AS turnaround,
              extract(epoch FROM completed_at - started_at)::float8 AS run
       FROM jobs WHERE job_id = $1`,
      [id],
    );
    const { turnaround, run } = rows[0] as { turnaround: number; run: number };
    const body = await ok(stats(agentId));
    expect(body.success_rate).toBe(1);
    expect(body.avg_duration_seconds).toBeCloseTo(turnaround, 6);
    expect(body.p50_duration_seconds).toBeCloseTo(turnaround, 6);
    expect(body.p95_duration_seconds).toBeCloseTo(turnaround, 6);
    expect(body.avg_run_seconds).toBeCloseTo(run, 6);
    expect(run).toBeGreaterThanOrEqual(0);
    expect(turnaround).toBeGreaterThanOrEqual(run);
  });

  it("answers 404 AGENT_NOT_FOUND for an unknown agent", async () => {
    const response = await stats("00000000-0000-4000-8000-000000000000");
    expect(response.status, response.text).toBe(404);
    expect(response.body.code).toBe("AGENT_NOT_FOUND");
    expect(String(response.headers["content-type"])).toMatch(/^application\/problem\+json/);
  });

  it("answers 400 VALIDATION_FAILED for an id that is not a UUID", async () => {
    const response = await stats("12345");
    expect(response.status, response.text).toBe(400);
    expect(response.body.code).toBe("VALIDATION_FAILED");
    expect(response.body.errors[0]).toMatchObject({ in: "path", field: "agent_id" });
  });
});
