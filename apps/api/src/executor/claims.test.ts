import { describe, expect, it } from "vitest";
import { useCountedApp } from "../../test/counted-app.ts";
import { expectProblem, sleep, until } from "../../test/expect.ts";
import { orderJob, type TestEnv, useTestEnv } from "../../test/harness.ts";
import { multipart } from "../../test/multipart.ts";
import { AgentCache } from "../agents/order-cache.ts";
import { ChangeFeed } from "../events/feed.ts";
import { ExecutorInstances } from "./instances.ts";
import { listJobs } from "./service.ts";

/**
 * A poll for pending jobs can take them at once: `claim=accept` hands them out accepted,
 * `claim=start` accepted and running, for executors that take every job they are handed. The
 * job still goes through the lifecycle (its history says pending → accepted → running), with
 * the lease, attempt and fencing an accept gives it.
 */

const LEASE_SECONDS = 0.5;

function poll(env: TestEnv, query: string, executorId?: string) {
  return env.call("GET", `/v1/executor/jobs?agent_id=${env.agentId}&${query}`, {
    key: env.provider.key,
    ...(executorId ? { headers: { "agnt-executor-id": executorId } } : {}),
  });
}

type JobBody = { job_id: string; status: string; attempt: number; [key: string]: unknown };
const jobsOf = (res: { body: { jobs: JobBody[] } }) => res.body.jobs;

async function pendingJobs(env: TestEnv, count: number): Promise<string[]> {
  const jobs: string[] = [];
  for (let i = 0; i < count; i += 1) jobs.push((await orderJob(env)).job_id);
  return jobs;
}

async function history(env: TestEnv, jobId: string) {
  const { rows } = await env.database.db.query<{
    from_status: string | null;
    to_status: string;
    actor: string;
    attempt: number;
  }>(
    "SELECT from_status, to_status, actor, attempt FROM job_events WHERE job_id = $1 ORDER BY event_id",
    [jobId],
  );
  return rows;
}

/** Takes every pending job of the test agent off the queue (each test starts from none). */
async function drain(env: TestEnv) {
  while (jobsOf(await poll(env, "limit=100&claim=start")).length > 0);
}

describe("polls that accept or start the jobs they hand out", () => {
  const env = useTestEnv({ leaseSeconds: 60 });

  it("claim=accept hands out accepted jobs, oldest first, each to one poll, with lease and attempt", async () => {
    await drain(env);
    const jobs = await pendingJobs(env, 3);
    const first = await poll(env, "limit=2&claim=accept", "exec-a");
    expect(first.status, first.text).toBe(200);
    expect(jobsOf(first).map((j) => j.job_id)).toEqual(jobs.slice(0, 2));
    for (const job of jobsOf(first)) {
      expect(job).toMatchObject({ status: "accepted", attempt: 1, started_at: null });
      expect(job.accepted_at).toEqual(expect.any(String));
      expect(Date.parse(String(job.lease_expires_at))).toBeGreaterThan(Date.now());
    }
    // Nothing is reserved: the jobs are the executor's already.
    expect(first.body.reserved_until).toBeNull();
    expect(jobsOf(await poll(env, "limit=10&claim=accept", "exec-b")).map((j) => j.job_id)).toEqual(
      jobs.slice(2),
    );
    expect(jobsOf(await poll(env, "limit=10&claim=none"))).toEqual([]);
    // The accepted job goes on as any accepted job: running, then completed.
    const [job] = jobs as [string];
    const running = await env.call("POST", `/v1/executor/jobs/${job}/status`, {
      key: env.provider.key,
      body: { status: "running", attempt: 1 },
    });
    expect(running.status, running.text).toBe(200);
    expect(await history(env, job)).toEqual([
      { from_status: null, to_status: "pending", actor: "buyer", attempt: 1 },
      { from_status: "pending", to_status: "accepted", actor: "executor", attempt: 1 },
      { from_status: "accepted", to_status: "running", actor: "executor", attempt: 1 },
    ]);
  });

  it("claim=start hands out running jobs; their history records the accept and the start", async () => {
    await drain(env);
    const [job] = (await pendingJobs(env, 1)) as [string];
    const taken = await poll(env, "limit=5&claim=start", "exec-a");
    expect(taken.status, taken.text).toBe(200);
    const [running] = jobsOf(taken) as [JobBody];
    expect(running).toMatchObject({ job_id: job, status: "running", attempt: 1 });
    expect(running.accepted_at).toEqual(expect.any(String));
    expect(running.started_at).toEqual(running.accepted_at);
    expect(await history(env, job)).toEqual([
      { from_status: null, to_status: "pending", actor: "buyer", attempt: 1 },
      { from_status: "pending", to_status: "accepted", actor: "executor", attempt: 1 },
      { from_status: "accepted", to_status: "running", actor: "executor", attempt: 1 },
    ]);
    // The buyer sees it running, taken by the polling executor instance.
    const seen = await env.call("GET", `/v1/jobs/${job}`, { key: env.buyer.key });
    expect(seen.body.status).toBe("running");
    const { rows } = await env.database.db.query<{ executor_id: string }>(
      "SELECT executor_id FROM jobs WHERE job_id = $1",
      [job],
    );
    expect(rows[0]?.executor_id).toBe("exec-a");
    // Fenced like any accepted job: a stale attempt is refused, the right one completes.
    expectProblem(
      await env.call("POST", `/v1/executor/jobs/${job}/complete`, {
        key: env.provider.key,
        body: { attempt: 2 },
      }),
      "ATTEMPT_MISMATCH",
    );
    const done = await env.call("POST", `/v1/executor/jobs/${job}/complete`, {
      key: env.provider.key,
      body: { attempt: 1 },
    });
    expect(done.status, done.text).toBe(200);
    expect(done.body.status).toBe("completed");
  });

  it("takes the executor's own reserved jobs, never another's", async () => {
    await drain(env);
    const jobs = await pendingJobs(env, 2);
    expect(jobsOf(await poll(env, "limit=1", "exec-a")).map((j) => j.job_id)).toEqual([jobs[0]]);
    // exec-b cannot take exec-a's reservation; exec-a can.
    expect(jobsOf(await poll(env, "limit=10&claim=start", "exec-b")).map((j) => j.job_id)).toEqual([
      jobs[1],
    ]);
    const own = await poll(env, "limit=10&claim=start", "exec-a");
    expect(jobsOf(own).map((j) => [j.job_id, j.status])).toEqual([[jobs[0], "running"]]);
  });

  it("wakes a waiting claiming poll for a new job and hands it over started", async () => {
    await drain(env);
    const started = Date.now();
    const waiting = poll(env, "limit=1&wait=30&claim=start", "exec-a");
    // The poll is waiting (it found nothing) before the order: let it get there.
    await sleep(200);
    const job = (await orderJob(env)).job_id;
    const taken = await waiting;
    expect(jobsOf(taken).map((j) => [j.job_id, j.status])).toEqual([[job, "running"]]);
    // Well under the 30 s wait: it was woken, not timed out.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("refuses an unknown claim with 400 and takes nothing", async () => {
    await drain(env);
    const [job] = await pendingJobs(env, 1);
    expectProblem(await poll(env, "claim=grab"), "VALIDATION_FAILED");
    expect(jobsOf(await poll(env, "claim=none")).map((j) => [j.job_id, j.status])).toEqual([
      [job, "pending"],
    ]);
  });

  it("only looks at jobs in other statuses, whatever the claim", async () => {
    await drain(env);
    const [job] = await pendingJobs(env, 1);
    await poll(env, "claim=accept", "exec-a");
    const listed = await poll(env, "status=accepted&claim=start", "exec-a");
    // Earlier tests' accepted jobs are listed too; this one stays accepted, not started.
    expect(jobsOf(listed).find((j) => j.job_id === job)?.status).toBe("accepted");
    expect(jobsOf(listed).every((j) => j.status === "accepted")).toBe(true);
  });

  it("takes nothing for a poll whose executor has gone away", async () => {
    await drain(env);
    const [job] = (await pendingJobs(env, 1)) as [string];
    const gone = new AbortController();
    gone.abort();
    const db = env.database.db;
    const deps = {
      db,
      feed: new ChangeFeed(),
      instances: new ExecutorInstances(db),
      agents: new AgentCache(db),
      reservationSeconds: 30,
      leaseSeconds: 60,
    };
    for (const claim of ["reserve", "accept", "start"] as const) {
      const query = { agent_id: env.agentId, status: "pending", limit: 1, wait: 0, claim } as const;
      const found = await listJobs(deps, env.provider.accountId, query, gone.signal);
      expect(found).toEqual({ jobs: [], reserved_until: null });
    }
    // Still pending and free for the next executor.
    expect(jobsOf(await poll(env, "claim=start", "exec-b")).map((j) => j.job_id)).toEqual([job]);
  });
});

describe("a completion that takes the next job (?next=)", () => {
  const env = useTestEnv({ leaseSeconds: 60 });

  const complete = (jobId: string, query: string, body: unknown = { attempt: 1 }) =>
    env.call("POST", `/v1/executor/jobs/${jobId}/complete?${query}`, {
      key: env.provider.key,
      headers: { "agnt-executor-id": "exec-a" },
      ...(body === undefined ? {} : { body }),
    });

  /** A job the poll started for exec-a; the test agent has no other pending job. */
  async function runningJob(): Promise<string> {
    await drain(env);
    const [job] = (await pendingJobs(env, 1)) as [string];
    expect(jobsOf(await poll(env, "claim=start", "exec-a")).map((j) => j.job_id)).toEqual([job]);
    return job;
  }

  it("completes the job and starts the agent's oldest pending job in the same call", async () => {
    const job = await runningJob();
    const waiting = await pendingJobs(env, 2);
    const done = await complete(job, "next=start");
    expect(done.status, done.text).toBe(200);
    expect(done.body).toMatchObject({ job_id: job, status: "completed" });
    expect(done.body.next_jobs.map((j: JobBody) => [j.job_id, j.status, j.attempt])).toEqual([
      [waiting[0], "running", 1],
    ]);
    expect(await history(env, waiting[0] as string)).toEqual([
      { from_status: null, to_status: "pending", actor: "buyer", attempt: 1 },
      { from_status: "pending", to_status: "accepted", actor: "executor", attempt: 1 },
      { from_status: "accepted", to_status: "running", actor: "executor", attempt: 1 },
    ]);
    // next=accept hands the following one out accepted; the last completion finds none.
    const second = await complete(waiting[0] as string, "next=accept");
    expect(second.body.next_jobs.map((j: JobBody) => [j.job_id, j.status])).toEqual([
      [waiting[1], "accepted"],
    ]);
    const started = await env.call("POST", `/v1/executor/jobs/${waiting[1]}/status`, {
      key: env.provider.key,
      body: { status: "running", attempt: 1 },
    });
    expect(started.status, started.text).toBe(200);
    const last = await complete(waiting[1] as string, "next=start");
    expect(last.body).toMatchObject({ status: "completed", next_jobs: [] });
    // Without ?next= the answer is the job alone.
    const plain = await runningJob();
    const answer = await complete(plain, "");
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.next_jobs).toBeUndefined();
  });

  it("takes nothing when the completion is refused", async () => {
    const job = await runningJob();
    const [waiting] = await pendingJobs(env, 1);
    expectProblem(await complete(job, "next=start", { attempt: 2 }), "ATTEMPT_MISMATCH");
    expectProblem(await complete(waiting as string, "next=start"), "INVALID_TRANSITION");
    expect(jobsOf(await poll(env, "claim=none")).map((j) => [j.job_id, j.status])).toEqual([
      [waiting, "pending"],
    ]);
  });

  it("takes only a pending job of the same agent that no other executor holds", async () => {
    const job = await runningJob();
    const otherAgent = await env.addAgent();
    const other = await env.call("POST", "/v1/jobs", {
      key: env.buyer.key,
      body: { agent_id: otherAgent, prompt: "p", params: { language: "go" } },
    });
    expect(other.status, other.text).toBe(201);
    const [held] = await pendingJobs(env, 1);
    // exec-b's reservation keeps the job from exec-a.
    expect(jobsOf(await poll(env, "limit=1", "exec-b")).map((j) => j.job_id)).toEqual([held]);
    const done = await complete(job, "next=start");
    expect(done.body).toMatchObject({ status: "completed", next_jobs: [] });
  });

  it("with result files (multipart), records them and takes the next job in one transaction", async () => {
    const job = await runningJob();
    const [waiting] = await pendingJobs(env, 1);
    const form = multipart([
      { name: "attempt", value: "1" },
      { name: "files", filename: "summary.md", value: "# Done\n", contentType: "text/markdown" },
    ]);
    const done = await env.call("POST", `/v1/executor/jobs/${job}/complete?next=start`, {
      key: env.provider.key,
      headers: { ...form.headers, "agnt-executor-id": "exec-a" },
      body: form.body,
    });
    expect(done.status, done.text).toBe(200);
    expect(done.body.next_jobs.map((j: JobBody) => [j.job_id, j.status])).toEqual([
      [waiting, "running"],
    ]);
    const result = await env.call("GET", `/v1/jobs/${job}/result`, { key: env.buyer.key });
    expect(result.body.files.map((f: { path: string }) => f.path)).toEqual(["summary.md"]);
  });

  it("refuses an unknown next with 400, changing nothing", async () => {
    const job = await runningJob();
    expectProblem(await complete(job, "next=reserve"), "VALIDATION_FAILED");
    const seen = await env.call("GET", `/v1/jobs/${job}`, { key: env.buyer.key });
    expect(seen.body.status).toBe("running");
  });
});

describe("a claimed job whose executor vanished", () => {
  const env = useTestEnv({ leaseSeconds: LEASE_SECONDS, sweepIntervalMs: 100 });

  it("goes back to pending with the next attempt when its lease lapses, and can be claimed again", async () => {
    const [job] = (await pendingJobs(env, 1)) as [string];
    expect(jobsOf(await poll(env, "claim=start", "exec-a")).map((j) => j.job_id)).toEqual([job]);
    // The lease lapses; the sweeper hands the job back. A waiting poll is woken for it.
    const again = await poll(env, "limit=1&wait=30&claim=start", "exec-b");
    expect(jobsOf(again).map((j) => [j.job_id, j.status, j.attempt])).toEqual([
      [job, "running", 2],
    ]);
    // The first executor's calls are fenced off.
    expectProblem(
      await env.call("POST", `/v1/executor/jobs/${job}/complete`, {
        key: env.provider.key,
        body: { attempt: 1 },
      }),
      "ATTEMPT_MISMATCH",
    );
  });
});

describe("a poll right after its executor found nothing to take", () => {
  const env = useCountedApp();
  const call = (method: "GET" | "POST", url: string, key: string, payload?: unknown) =>
    env.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}`, "agnt-executor-id": "exec-a" },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  const order = () =>
    call("POST", "/v1/jobs", env.buyerKey, {
      agent_id: env.agentId,
      prompt: "p",
      params: { language: "go" },
    });
  /** A job ordered by another process: plain SQL, heard here only through its notification. */
  const orderElsewhere = () =>
    env.database.db.query(
      `INSERT INTO jobs (job_id, agent_id, buyer_account_id, provider_account_id, prompt, params)
       SELECT gen_random_uuid(), a.agent_id, b.account_id, a.owner_account_id, 'p', '{}'
       FROM agents a, (SELECT account_id FROM accounts WHERE role = 'buyer' LIMIT 1) b
       WHERE a.agent_id = $1`,
      [env.agentId],
    );
  const takes = () => env.statements.filter((sql) => /^WITH (picked|done) AS/.test(sql)).length;
  const pollPath = (wait: number) =>
    `/v1/executor/jobs?agent_id=${env.agentId}&limit=1&claim=start&wait=${wait}`;

  it("waits without reading first, and takes the next job when woken", async () => {
    expect((await order()).statusCode).toBe(201);
    const [job] = (await call("GET", pollPath(0), env.providerKey)).json().jobs;
    // The completion finds no next job: the executor now knows the queue is empty.
    const done = await call(
      "POST",
      `/v1/executor/jobs/${job.job_id}/complete?next=start`,
      env.providerKey,
      { attempt: 1 },
    );
    expect(done.json().next_jobs).toEqual([]);
    env.statements.length = 0;
    const waiting = call("GET", pollPath(30), env.providerKey);
    await until(() => env.feed.waiting === 1);
    expect(takes()).toBe(0);
    // Ordered through another process, the job is not handed to this poll at its order
    // (hand-off.test.ts): it becomes pending, this process hears of it, and wakes the poll.
    await orderElsewhere();
    const taken = (await waiting).json().jobs;
    expect(taken.map((j: JobBody) => j.status)).toEqual(["running"]);
    expect(takes()).toBe(1);
  });

  it("a completion looks for no next job either, until one becomes pending", async () => {
    expect((await order()).statusCode).toBe(201);
    expect((await order()).statusCode).toBe(201);
    const held = (await call("GET", pollPath(0).replace("limit=1", "limit=2"), env.providerKey))
      .json()
      .jobs.map((j: JobBody) => j.job_id);
    expect(held).toHaveLength(2);
    expect((await call("GET", pollPath(0), env.providerKey)).json().jobs).toEqual([]);
    const complete = (jobId: string) =>
      call("POST", `/v1/executor/jobs/${jobId}/complete?next=start`, env.providerKey, {
        attempt: 1,
      });
    env.statements.length = 0;
    const first = await complete(held[0]);
    expect(first.json()).toMatchObject({ status: "completed", next_jobs: [] });
    expect(takes()).toBe(0);
    // A job became pending: the next completion takes it.
    expect((await order()).statusCode).toBe(201);
    env.statements.length = 0;
    const second = await complete(held[1]);
    expect(second.json().next_jobs.map((j: JobBody) => j.status)).toEqual(["running"]);
    expect(takes()).toBe(1);
    // With result files too: found nothing just now (a poll), so the completion reads nothing.
    expect((await call("GET", pollPath(0), env.providerKey)).json().jobs).toEqual([]);
    const form = multipart([
      { name: "attempt", value: "1" },
      { name: "files", filename: "summary.md", value: "# Done\n", contentType: "text/markdown" },
    ]);
    env.statements.length = 0;
    const withFiles = await env.app.inject({
      method: "POST",
      url: `/v1/executor/jobs/${second.json().next_jobs[0].job_id}/complete?next=start`,
      headers: {
        ...form.headers,
        authorization: `Bearer ${env.providerKey}`,
        "agnt-executor-id": "exec-a",
      },
      payload: form.body,
    });
    expect(withFiles.statusCode, withFiles.body).toBe(200);
    expect(withFiles.json()).toMatchObject({ status: "completed", next_jobs: [] });
    expect(env.statements.filter((sql) => /picked AS/.test(sql))).toEqual([]);
  });

  it("a completion of another agent's job than the one known empty still takes that agent's next job", async () => {
    const { rows } = await env.database.db.query<{ agent_id: string }>(
      `INSERT INTO agents (owner_account_id, slug, name, description, tags, pricing, input_schema,
                           output_schema)
       SELECT owner_account_id, 'second-agent', 'Second agent', description, tags, pricing,
              input_schema, output_schema
       FROM agents WHERE agent_id = $1 RETURNING agent_id`,
      [env.agentId],
    );
    const other = (rows[0] as { agent_id: string }).agent_id;
    const orderOther = () =>
      call("POST", "/v1/jobs", env.buyerKey, {
        agent_id: other,
        prompt: "p",
        params: { language: "go" },
      });
    const otherPoll = pollPath(0).replace(env.agentId, other);
    expect((await orderOther()).statusCode).toBe(201);
    const [held] = (await call("GET", otherPoll, env.providerKey)).json().jobs;
    const waiting = (await orderOther()).json().job_id;
    // Nothing to take for the first agent: that is what exec-a knows empty now.
    while ((await call("GET", pollPath(0), env.providerKey)).json().jobs.length > 0);
    const done = await call(
      "POST",
      `/v1/executor/jobs/${held.job_id}/complete?next=start`,
      env.providerKey,
      { attempt: 1 },
    );
    expect(done.json().next_jobs.map((j: JobBody) => [j.job_id, j.status])).toEqual([
      [waiting, "running"],
    ]);
  });

  it("reads first when a job became pending since, or when it asks not to wait", async () => {
    expect((await call("GET", pollPath(0), env.providerKey)).json().jobs).toEqual([]);
    expect((await order()).statusCode).toBe(201);
    env.statements.length = 0;
    const found = await call("GET", pollPath(30), env.providerKey);
    expect(found.json().jobs).toHaveLength(1);
    expect(takes()).toBe(1);
    // Found nothing just now, but a poll without `wait` always looks.
    env.statements.length = 0;
    expect((await call("GET", pollPath(0), env.providerKey)).json().jobs).toEqual([]);
    expect((await call("GET", pollPath(0), env.providerKey)).json().jobs).toEqual([]);
    expect(takes()).toBe(2);
  });
});
