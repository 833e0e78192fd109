import { describe, expect, it } from "vitest";
import { useCountedApp } from "../../test/counted-app.ts";
import { until } from "../../test/expect.ts";

/**
 * A job ordered while an executor's claiming poll (`claim=accept|start`) waits for its agent's
 * jobs is inserted already taken for that poll and handed to it: no take statement, no
 * wake-up. Its history reads as the lifecycle goes: pending, accepted, running.
 */
describe("a job ordered while a claiming poll waits", () => {
  const env = useCountedApp();
  const order = (idempotencyKey?: string) =>
    env.app.inject({
      method: "POST",
      url: "/v1/jobs",
      headers: {
        authorization: `Bearer ${env.buyerKey}`,
        ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}),
      },
      payload: { agent_id: env.agentId, prompt: "p", params: { language: "go" } },
    });
  const poll = (claim: string, executorId: string) =>
    env.app.inject({
      method: "GET",
      url: `/v1/executor/jobs?agent_id=${env.agentId}&limit=1&wait=30&claim=${claim}`,
      headers: { authorization: `Bearer ${env.providerKey}`, "agnt-executor-id": executorId },
    });
  const takes = () => env.statements.filter((sql) => /^WITH (picked|done) AS/.test(sql)).length;
  const history = async (jobId: string) =>
    (
      await env.database.db.query<{ from_status: string | null; to_status: string; actor: string }>(
        "SELECT from_status, to_status, actor FROM job_events WHERE job_id = $1 ORDER BY event_id",
        [jobId],
      )
    ).rows;
  /**
   * Starts a poll and waits until it waits, its first read done. (Its answer is wrapped: an
   * inject chain is a thenable, which an async function's result would wait for.)
   */
  const waitingPoll = async (claim: string, executorId: string) => {
    const waiting = env.feed.waiting;
    const answer = poll(claim, executorId).then((response) => response);
    await until(() => env.feed.waiting === waiting + 1);
    return { answer };
  };

  it("claim=start: handed to the poll running, with lease and executor, without a take", async () => {
    const polled = await waitingPoll("start", "exec-a");
    env.statements.length = 0;
    const ordered = await order();
    expect(ordered.statusCode, ordered.body).toBe(201);
    const [job] = (await polled.answer).json().jobs;
    expect(job).toMatchObject({ job_id: ordered.json().job_id, status: "running", attempt: 1 });
    expect(job.accepted_at).toEqual(expect.any(String));
    expect(job.started_at).toEqual(expect.any(String));
    expect(Date.parse(job.lease_expires_at)).toBeGreaterThan(Date.now());
    expect(takes()).toBe(0);
    expect(env.statements.filter((sql) => sql.startsWith("INSERT INTO jobs"))).toHaveLength(1);
    expect(await history(job.job_id)).toEqual([
      { from_status: null, to_status: "pending", actor: "buyer" },
      { from_status: "pending", to_status: "accepted", actor: "executor" },
      { from_status: "accepted", to_status: "running", actor: "executor" },
    ]);
    // It goes on as any job its executor took: completed, fenced by its attempt.
    const done = await env.app.inject({
      method: "POST",
      url: `/v1/executor/jobs/${job.job_id}/complete`,
      headers: { authorization: `Bearer ${env.providerKey}` },
      payload: { attempt: 1 },
    });
    expect(done.statusCode, done.body).toBe(200);
    const { rows } = await env.database.db.query<{ executor_id: string }>(
      "SELECT executor_id FROM jobs WHERE job_id = $1",
      [job.job_id],
    );
    expect(rows[0]?.executor_id).toBe("exec-a");
  });

  it("claim=accept: handed accepted, not started", async () => {
    const polled = await waitingPoll("accept", "exec-a");
    env.statements.length = 0;
    const ordered = await order();
    const [job] = (await polled.answer).json().jobs;
    expect(job).toMatchObject({
      job_id: ordered.json().job_id,
      status: "accepted",
      started_at: null,
    });
    expect((await history(job.job_id)).map((e) => e.to_status)).toEqual(["pending", "accepted"]);
    expect(takes()).toBe(0);
  });

  it("goes to the poll that has waited longest; the next order to the next poll", async () => {
    const first = await waitingPoll("start", "exec-a");
    const second = await waitingPoll("start", "exec-b");
    env.statements.length = 0;
    const one = (await order()).json().job_id;
    expect((await first.answer).json().jobs.map((j: { job_id: string }) => j.job_id)).toEqual([
      one,
    ]);
    const two = (await order()).json().job_id;
    expect((await second.answer).json().jobs.map((j: { job_id: string }) => j.job_id)).toEqual([
      two,
    ]);
    expect(takes()).toBe(0);
  });

  it("an order in a transaction (Idempotency-Key) is handed once committed; its replay is not", async () => {
    const polled = await waitingPoll("start", "exec-a");
    env.statements.length = 0;
    const ordered = await order("hand-off-once");
    expect(ordered.statusCode, ordered.body).toBe(201);
    const [job] = (await polled.answer).json().jobs;
    expect(job).toMatchObject({ job_id: ordered.json().job_id, status: "running" });
    expect(takes()).toBe(0);
    // The replay returns the same job and hands nothing: the next poll waits for a new one.
    const next = await waitingPoll("start", "exec-a");
    const replay = await order("hand-off-once");
    expect(replay.json().job_id).toBe(job.job_id);
    expect(env.feed.waiting).toBe(1);
    const fresh = (await order()).json().job_id;
    expect((await next.answer).json().jobs.map((j: { job_id: string }) => j.job_id)).toEqual([
      fresh,
    ]);
  });

  it("a poll that reserves is not handed jobs: the job is pending, and the poll reserves it", async () => {
    const polled = await waitingPoll("reserve", "exec-a");
    const ordered = await order();
    expect(ordered.json().status).toBe("pending");
    const answer = (await polled.answer).json();
    expect(
      answer.jobs.map((j: { job_id: string; status: string }) => [j.job_id, j.status]),
    ).toEqual([[ordered.json().job_id, "pending"]]);
    expect(answer.reserved_until).toEqual(expect.any(String));
  });
});
