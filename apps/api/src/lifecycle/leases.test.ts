import { describe, expect, it } from "vitest";
import { expectProblem, sleep } from "../../test/expect.ts";
import {
  type CallResult,
  orderJob,
  setStatus,
  type TestEnv,
  useTestEnv,
} from "../../test/harness.ts";

const LEASE = 0.4;
const SWEEP = 0.1;
/**
 * Slack on "within lease + sweep": the sweeper acts within one interval of a deadline; a slow,
 * busy machine gets this much more. Without the sweeper nothing would ever change.
 */
const SLACK = 10;
const env = useTestEnv({ leaseSeconds: LEASE, sweepIntervalMs: SWEEP * 1000 });

const job = async (id: string) =>
  (await env.call("GET", `/v1/jobs/${id}`, { key: env.buyer.key })).body;
const heartbeat = (
  id: string,
  body: Record<string, unknown>,
  key = env.provider.key,
  on = env,
): Promise<CallResult> => on.call("POST", `/v1/executor/jobs/${id}/heartbeat`, { key, body });

/** Polls until the job satisfies `done`, for at most `seconds`; returns it. */
async function until(
  id: string,
  done: (j: { status: string; attempt: number }) => boolean,
  seconds: number,
) {
  const deadline = Date.now() + seconds * 1000;
  let current = await job(id);
  while (!done(current) && Date.now() < deadline) {
    await sleep(50);
    current = await job(id);
  }
  return current;
}

async function events(t: TestEnv, id: string) {
  const { rows } = await t.database.db.query<{
    from_status: string;
    to_status: string;
    actor: string;
    attempt: number;
  }>(
    "SELECT from_status, to_status, actor, attempt FROM job_events WHERE job_id = $1 ORDER BY event_id",
    [id],
  );
  return rows;
}

describe("lease renewal", () => {
  // A lease long enough that renewals every 200 ms keep it on the busiest machine, yet the
  // job is held for several lease lengths: without renewals it would lapse.
  const RENEWED_LEASE = 2;
  const renewing = useTestEnv({ leaseSeconds: RENEWED_LEASE, sweepIntervalMs: 100 });

  it("accepting starts a lease that status calls and heartbeats renew", async () => {
    const { job_id: id } = await orderJob(renewing);
    const accepted = await setStatus(renewing, id, { status: "accepted" });
    const lease =
      Date.parse(accepted.body.lease_expires_at) - Date.parse(accepted.body.accepted_at);
    expect(lease).toBeGreaterThanOrEqual(RENEWED_LEASE * 1000 - 5);
    expect(lease).toBeLessThanOrEqual(RENEWED_LEASE * 1000 + 5);
    const heldUntil = Date.now() + 3 * RENEWED_LEASE * 1000;
    while (Date.now() < heldUntil) {
      await sleep(200);
      const beat = await heartbeat(id, { attempt: 1 }, renewing.provider.key, renewing);
      expect(beat.status, beat.text).toBe(200);
    }
    const running = await setStatus(renewing, id, { status: "running", attempt: 1 });
    expect(running.status, running.text).toBe(200);
    await sleep(200);
    const progress = await heartbeat(
      id,
      { attempt: 1, progress: 30, message: "indexing" },
      renewing.provider.key,
      renewing,
    );
    expect(progress.body).toMatchObject({
      status: "running",
      attempt: 1,
      progress: 30,
      progress_message: "indexing",
    });
    const after = await renewing.call("GET", `/v1/jobs/${id}`, { key: renewing.buyer.key });
    expect(after.body).toMatchObject({ status: "running", attempt: 1 });
  });
});

describe("leases", () => {
  it("a lapsed lease returns the job to pending with attempt + 1 within lease + sweep + 1 s; the old attempt is fenced off", async () => {
    const { job_id: id } = await orderJob(env);
    await setStatus(env, id, { status: "accepted" });
    await setStatus(env, id, { status: "running", attempt: 1 });
    const started = Date.now();
    const requeued = await until(id, (j) => j.status === "pending", LEASE + SWEEP + SLACK);
    expect(requeued).toMatchObject({
      status: "pending",
      attempt: 2,
      lease_expires_at: null,
      started_at: null,
    });
    expect(Date.now() - started).toBeLessThan((LEASE + SWEEP + SLACK) * 1000);
    expect((await events(env, id)).at(-1)).toEqual({
      from_status: "running",
      to_status: "pending",
      actor: "system",
      attempt: 2,
    });
    // The vanished executor's calls change nothing.
    expectProblem(await setStatus(env, id, { status: "running", attempt: 1 }), "ATTEMPT_MISMATCH");
    expectProblem(await heartbeat(id, { attempt: 1 }), "ATTEMPT_MISMATCH");
    const complete = await env.call("POST", `/v1/executor/jobs/${id}/complete`, {
      key: env.provider.key,
      body: { attempt: 1 },
    });
    expectProblem(complete, "ATTEMPT_MISMATCH");
    // Another executor takes attempt 2.
    const again = await setStatus(env, id, { status: "accepted" });
    expect(again.body.attempt).toBe(2);
  });

  it("fails the job with lease_lost after its last attempt; that attempt's calls answer LEASE_LOST", async () => {
    const { job_id: id } = await orderJob(env);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const accepted = await setStatus(env, id, { status: "accepted" });
      expect(accepted.body.attempt).toBe(attempt);
      await until(id, (j) => j.attempt > attempt || j.status === "failed", LEASE + SWEEP + SLACK);
    }
    const failed = await job(id);
    expect(failed).toMatchObject({
      status: "failed",
      failure_code: "lease_lost",
      attempt: 3,
      max_attempts: 3,
    });
    expect(failed.completed_at).not.toBeNull();
    expectProblem(await heartbeat(id, { attempt: 3 }), "LEASE_LOST");
    expectProblem(await setStatus(env, id, { status: "running", attempt: 3 }), "LEASE_LOST");
  });
});

describe("deadlines", () => {
  it("fails a job past its run timeout with timed_out; the executor is told so", async () => {
    const { job_id: id, timeout_seconds } = await orderJob(env, { timeout_seconds: 1 });
    expect(timeout_seconds).toBe(1);
    await setStatus(env, id, { status: "accepted" });
    await setStatus(env, id, { status: "running", attempt: 1 });
    // Heartbeats keep the lease alive: it is the timeout that ends the job.
    const beating = setInterval(() => void heartbeat(id, { attempt: 1 }), 100);
    const failed = await until(id, (j) => j.status === "failed", 1 + SWEEP + SLACK);
    clearInterval(beating);
    expect(failed).toMatchObject({ status: "failed", failure_code: "timed_out", attempt: 1 });
    expectProblem(await heartbeat(id, { attempt: 1 }), "JOB_TIMED_OUT");
    const complete = await env.call("POST", `/v1/executor/jobs/${id}/complete`, {
      key: env.provider.key,
      body: { attempt: 1 },
    });
    expectProblem(complete, "JOB_TIMED_OUT");
  });

  it("fails a job nobody accepted before its queue deadline with expired", async () => {
    const created = await orderJob(env, { expires_in_seconds: 1 });
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(1000);
    const expired = await until(created.job_id, (j) => j.status === "failed", 1 + SWEEP + SLACK);
    expect(expired).toMatchObject({ status: "failed", failure_code: "expired" });
    expectProblem(
      await setStatus(env, created.job_id, { status: "accepted" }),
      "INVALID_TRANSITION",
    );
  });

  it("applies the agent's default timeout and refuses one above its maximum", async () => {
    const agentId = await env.addAgent({ defaultTimeoutSeconds: 600, maxTimeoutSeconds: 900 });
    const card = await env.call("GET", `/v1/agents/${agentId}`, { key: env.buyer.key });
    expect(card.body).toMatchObject({ default_timeout_seconds: 600, max_timeout_seconds: 900 });
    expect((await orderJob(env, { agent_id: agentId })).timeout_seconds).toBe(600);
    expect((await orderJob(env, { agent_id: agentId, timeout_seconds: 900 })).timeout_seconds).toBe(
      900,
    );
    const refused = await env.call("POST", "/v1/jobs", {
      key: env.buyer.key,
      body: { agent_id: agentId, prompt: "p", params: { language: "go" }, timeout_seconds: 901 },
    });
    expectProblem(refused, "TIMEOUT_NOT_ALLOWED");
  });
});

describe("heartbeats", () => {
  it("are refused for jobs the executor does not hold at that attempt", async () => {
    const { job_id: pending } = await orderJob(env);
    expectProblem(await heartbeat(pending, { attempt: 1 }), "INVALID_TRANSITION");
    await setStatus(env, pending, { status: "accepted" });
    expectProblem(await heartbeat(pending, { attempt: 1, progress: 10 }), "INVALID_TRANSITION");
    expectProblem(await heartbeat(pending, { attempt: 2 }), "ATTEMPT_MISMATCH");
    expectProblem(await heartbeat(pending, { attempt: 1 }, env.provider2.key), "JOB_NOT_FOUND");
    expectProblem(await heartbeat(pending, { attempt: 1 }, env.buyer.key), "FORBIDDEN");
    await env.call("POST", `/v1/jobs/${pending}/cancel`, { key: env.buyer.key });
    expectProblem(await heartbeat(pending, { attempt: 1 }), "JOB_CANCELED");
  });
});

describe("executor instances", () => {
  it("count as online for the agent they poll or work for", async () => {
    const agentId = await env.addAgent();
    const online = async () =>
      (await env.call("GET", `/v1/agents/${agentId}`, { key: env.buyer.key })).body
        .executors_online;
    expect(await online()).toBe(0);
    for (const executor of ["host-a/1", "host-b/7", "host-a/1"]) {
      const res = await env.call("GET", `/v1/executor/jobs?agent_id=${agentId}`, {
        key: env.provider.key,
        headers: { "agnt-executor-id": executor, "agnt-executor-version": "1.2.3" },
      });
      expect(res.status).toBe(200);
    }
    expect(await online()).toBe(2);
    const stats = await env.call("GET", `/v1/agents/${agentId}/stats`, { key: env.buyer.key });
    expect(stats.body.executors_online).toBe(2);
    const { rows } = await env.database.db.query<{ version: string }>(
      "SELECT version FROM executor_instances WHERE agent_id = $1",
      [agentId],
    );
    expect(rows.map((r) => r.version)).toEqual(["1.2.3", "1.2.3"]);
    // Seen long ago: no longer online.
    await env.database.db.query(
      "UPDATE executor_instances SET last_seen_at = now() - interval '5 minutes'",
    );
    expect(await online()).toBe(0);
  });
});
