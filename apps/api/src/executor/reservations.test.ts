import { describe, expect, it } from "vitest";
import { expectProblem, sleep } from "../../test/expect.ts";
import { orderJob, setStatus, type TestEnv, useTestEnv } from "../../test/harness.ts";

/**
 * Pending jobs handed to an executor's poll are reserved for it: no other poll is handed them
 * until they are accepted or rejected or the reservation lapses, so executors polling together
 * never race for the same job.
 */

const RESERVATION_SECONDS = 1;

function poll(env: TestEnv, agentId: string, query: string, executorId?: string) {
  return env.call("GET", `/v1/executor/jobs?agent_id=${agentId}&${query}`, {
    key: env.provider.key,
    ...(executorId ? { headers: { "agnt-executor-id": executorId } } : {}),
  });
}

const ids = (res: { body: { jobs: { job_id: string }[] } }) =>
  res.body.jobs.map((job) => job.job_id);

async function pendingJobs(env: TestEnv, agentId: string, count: number): Promise<string[]> {
  const jobs: string[] = [];
  for (let i = 0; i < count; i += 1) jobs.push((await orderJob(env, { agent_id: agentId })).job_id);
  return jobs;
}

describe("reservations of pending jobs", () => {
  const env = useTestEnv({ reservationSeconds: RESERVATION_SECONDS });

  it("hands each pending job to one poll only, oldest first, and says until when", async () => {
    const agentId = await env.addAgent();
    const jobs = await pendingJobs(env, agentId, 5);
    const first = await poll(env, agentId, "limit=2", "exec-a");
    const second = await poll(env, agentId, "limit=2", "exec-b");
    const anonymous = await poll(env, agentId, "limit=2");
    expect(ids(first)).toEqual(jobs.slice(0, 2));
    expect(ids(second)).toEqual(jobs.slice(2, 4));
    expect(ids(anonymous)).toEqual(jobs.slice(4));
    const until = Date.parse(first.body.reserved_until);
    expect(until).toBeGreaterThan(Date.now() - 5_000);
    expect(until).toBeLessThanOrEqual(Date.now() + RESERVATION_SECONDS * 1000 + 5_000);
    // Nothing is left for a fourth poll.
    expect(ids(await poll(env, agentId, "limit=10", "exec-c"))).toEqual([]);
  });

  it("hands an executor its own reserved jobs again when it polls again", async () => {
    const agentId = await env.addAgent();
    const jobs = await pendingJobs(env, agentId, 3);
    expect(ids(await poll(env, agentId, "limit=2", "exec-a"))).toEqual(jobs.slice(0, 2));
    expect(ids(await poll(env, agentId, "limit=10", "exec-a"))).toEqual(jobs);
    expect(ids(await poll(env, agentId, "limit=10", "exec-b"))).toEqual([]);
  });

  it("claim=none only looks: it sees every pending job and reserves none", async () => {
    const agentId = await env.addAgent();
    const jobs = await pendingJobs(env, agentId, 2);
    expect(ids(await poll(env, agentId, "limit=1", "exec-a"))).toEqual(jobs.slice(0, 1));
    const look = await poll(env, agentId, "limit=10&claim=none", "exec-b");
    expect(ids(look)).toEqual(jobs);
    expect(look.body.reserved_until).toBeNull();
    expect(ids(await poll(env, agentId, "limit=10", "exec-c"))).toEqual(jobs.slice(1));
  });

  it("lets a reservation lapse: the job goes to another executor", async () => {
    const agentId = await env.addAgent();
    const [job] = await pendingJobs(env, agentId, 1);
    expect(ids(await poll(env, agentId, "limit=1", "exec-a"))).toEqual([job]);
    expect(ids(await poll(env, agentId, "limit=1", "exec-b"))).toEqual([]);
    await sleep(RESERVATION_SECONDS * 1000 + 100);
    expect(ids(await poll(env, agentId, "limit=1", "exec-b"))).toEqual([job]);
  });

  it("is advisory: the job is still accepted exactly once, by whoever asks first", async () => {
    const agentId = await env.addAgent();
    const [job] = (await pendingJobs(env, agentId, 1)) as [string];
    expect(ids(await poll(env, agentId, "limit=1", "exec-a"))).toEqual([job]);
    const accepted = await setStatus(env, job, { status: "accepted" });
    expect(accepted.status, accepted.text).toBe(200);
    expectProblem(await setStatus(env, job, { status: "accepted" }), "INVALID_TRANSITION");
  });

  it("clears the reservation on accept: a job back in the queue after a lapsed lease is free", async () => {
    const agentId = await env.addAgent();
    const [job] = (await pendingJobs(env, agentId, 1)) as [string];
    expect(ids(await poll(env, agentId, "limit=1", "exec-a"))).toEqual([job]);
    expect((await setStatus(env, job, { status: "accepted" })).status).toBe(200);
    // The sweeper hands the job back (its lease lapsed) with the next attempt.
    await env.database.db.query(
      `UPDATE jobs SET status = 'pending', attempt = 2, changed_by = 'system',
         lease_expires_at = NULL, accepted_at = NULL WHERE job_id = $1`,
      [job],
    );
    expect(ids(await poll(env, agentId, "limit=1", "exec-b"))).toEqual([job]);
  });

  it("does not reserve jobs listed in another status", async () => {
    const agentId = await env.addAgent();
    const [job] = (await pendingJobs(env, agentId, 1)) as [string];
    expect((await setStatus(env, job, { status: "accepted" })).status).toBe(200);
    const listed = await poll(env, agentId, "status=accepted", "exec-a");
    expect(ids(listed)).toEqual([job]);
    expect(listed.body.reserved_until).toBeNull();
  });
});

describe("a lapsed reservation wakes long-polling executors", () => {
  const env = useTestEnv({ reservationSeconds: RESERVATION_SECONDS, sweepIntervalMs: 200 });

  it("answers a waiting poll soon after the reservation lapses, long before its wait ends", async () => {
    const agentId = await env.addAgent();
    const [job] = await pendingJobs(env, agentId, 1);
    expect(ids(await poll(env, agentId, "limit=1", "exec-a"))).toEqual([job]);
    const started = Date.now();
    const waited = await poll(env, agentId, "limit=1&wait=30", "exec-b");
    expect(ids(waited)).toEqual([job]);
    // Well under the 30 s wait: it was woken, not timed out.
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
