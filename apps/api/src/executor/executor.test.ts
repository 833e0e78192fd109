import { describe, expect, it } from "vitest";
import { expectProblem, jobSnapshot, sleep } from "../../test/expect.ts";
import { type CallResult, orderJob, setStatus, useTestEnv } from "../../test/harness.ts";
import { multipart } from "../../test/multipart.ts";

const env = useTestEnv();

const list = (query: string, key = env.provider.key) =>
  env.call("GET", `/v1/executor/jobs?${query}`, { key });

const complete = (jobId: string, body: unknown, headers?: Record<string, string>) =>
  env.call("POST", `/v1/executor/jobs/${jobId}/complete`, {
    key: env.provider.key,
    body,
    ...(headers ? { headers } : {}),
  });

/** A multipart/form-data body built by hand. */
const ids = (res: CallResult): string[] =>
  res.body.jobs.map((job: { job_id: string }) => job.job_id);

async function orderOn(agentId: string): Promise<string> {
  return (await orderJob(env, { agent_id: agentId })).job_id;
}

async function acceptedJob(agentId = env.agentId): Promise<string> {
  const jobId = await orderOn(agentId);
  const accepted = await setStatus(env, jobId, { status: "accepted" });
  expect(accepted.status, accepted.text).toBe(200);
  return jobId;
}

async function runningJob(agentId = env.agentId): Promise<string> {
  const jobId = await acceptedJob(agentId);
  const running = await setStatus(env, jobId, { status: "running", attempt: 1 });
  expect(running.status, running.text).toBe(200);
  return jobId;
}

describe("listing", () => {
  it("lists pending jobs oldest first (created_at, then job_id), with params and attempt", async () => {
    const agentId = await env.addAgent();
    const [a, b, c] = [await orderOn(agentId), await orderOn(agentId), await orderOn(agentId)];
    const started = await runningJob(agentId);
    // Make the order differ from the insertion order, with a tie on created_at.
    const setCreated = (id: string, at: string) =>
      env.database.db.query("UPDATE jobs SET created_at = $2 WHERE job_id = $1", [id, at]);
    await setCreated(a, "2020-01-01T00:00:02Z");
    await setCreated(b, "2020-01-01T00:00:01Z");
    await setCreated(c, "2020-01-01T00:00:02Z");
    const res = await list(`agent_id=${agentId}`);
    expect(res.status, res.text).toBe(200);
    expect(ids(res)).toEqual([b, ...[a, c].sort()]);
    expect(ids(res)).not.toContain(started);
    for (const job of res.body.jobs) {
      expect(job).toMatchObject({
        agent_id: agentId,
        status: "pending",
        attempt: 1,
        params: { language: "typescript" },
        prompt: "Refactor the parser",
      });
    }
  });

  it("shows each provider only the jobs of its own agents", async () => {
    const mine = await orderOn(env.agentId);
    const theirs = await orderOn(env.otherAgentId);
    const asProvider = await list("limit=100");
    const asProvider2 = await list("limit=100", env.provider2.key);
    expect(asProvider.status).toBe(200);
    expect(asProvider2.status).toBe(200);
    expect(ids(asProvider)).toContain(mine);
    expect(ids(asProvider)).not.toContain(theirs);
    expect(ids(asProvider2)).toContain(theirs);
    expect(ids(asProvider2)).not.toContain(mine);
    for (const job of asProvider2.body.jobs) expect(job.agent_id).toBe(env.otherAgentId);
  });

  it("without agent_id lists the jobs of all the provider's agents", async () => {
    const created = await env.call("POST", "/v1/admin/keys", {
      key: env.admin.key,
      body: { role: "provider", name: "Provider Three" },
    });
    expect(created.status, created.text).toBe(201);
    const owner = created.body.account_id;
    const first = await env.addAgent({ ownerAccountId: owner });
    const second = await env.addAgent({ ownerAccountId: owner });
    const jobs = [await orderOn(first), await orderOn(second), await orderOn(first)];
    const res = await list("", created.body.key);
    expect(res.status, res.text).toBe(200);
    expect(ids(res)).toEqual(jobs);
    const agents = res.body.jobs.map((j: { agent_id: string }) => j.agent_id);
    expect(agents).toEqual([first, second, first]);
  });

  it("refuses another provider's agent (403) and an unknown agent (404)", async () => {
    expectProblem(await list(`agent_id=${env.otherAgentId}`), "AGENT_NOT_OWNED");
    const unknownAgent = "00000000-0000-4000-8000-000000000000";
    expectProblem(await list(`agent_id=${unknownAgent}`), "AGENT_NOT_FOUND");
  });

  it("filters by status", async () => {
    const agentId = await env.addAgent();
    const waiting = await orderOn(agentId);
    const running = await runningJob(agentId);
    const res = await list(`agent_id=${agentId}&status=running`);
    expect(res.status).toBe(200);
    expect(ids(res)).toEqual([running]);
    expect(res.body.jobs[0].status).toBe("running");
    const pending = await list(`agent_id=${agentId}`);
    expect(ids(pending)).toEqual([waiting]);
  });

  it("honours limit", async () => {
    const agentId = await env.addAgent();
    const ordered: string[] = [];
    for (let i = 0; i < 5; i++) ordered.push(await orderOn(agentId));
    const res = await list(`agent_id=${agentId}&limit=2`);
    expect(res.status).toBe(200);
    expect(ids(res)).toEqual(ordered.slice(0, 2));
    expect((await list(`agent_id=${agentId}&claim=none`)).body.jobs).toHaveLength(5);
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["wait=61", "wait"],
    ["status=sleeping", "status"],
  ])("refuses %s with 400", async (query, field) => {
    const res = await list(query);
    expectProblem(res, "VALIDATION_FAILED");
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });
});

describe("long-poll", () => {
  it("returns a job ordered while the request waits", async () => {
    const agentId = await env.addAgent();
    const started = Date.now();
    const polling = list(`agent_id=${agentId}&wait=5`);
    await sleep(200);
    const jobId = await orderOn(agentId);
    const ordered = Date.now();
    const res = await polling;
    const done = Date.now();
    expect(res.status, res.text).toBe(200);
    expect(ids(res)).toEqual([jobId]);
    expect(done - ordered).toBeLessThan(1500);
    expect(done - started).toBeGreaterThanOrEqual(150);
  });

  it("returns no jobs after the wait when nothing is pending", async () => {
    const agentId = await env.addAgent();
    const started = Date.now();
    const res = await list(`agent_id=${agentId}&wait=1`);
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ jobs: [], reserved_until: null });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(20_000);
  });
});

describe("concurrency", () => {
  it("lets exactly one of 50 concurrent accepts win", async () => {
    const jobId = await orderOn(env.agentId);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => setStatus(env, jobId, { status: "accepted" })),
    );
    const ok = results.filter((r) => r.status === 200);
    const conflicts = results.filter((r) => r.status === 409);
    expect(ok).toHaveLength(1);
    expect(conflicts).toHaveLength(49);
    for (const r of conflicts) expect(r.body.code).toBe("INVALID_TRANSITION");
    const { rows } = await env.database.db.query(
      "SELECT count(*)::int AS n FROM job_events WHERE job_id = $1 AND to_status = 'accepted'",
      [jobId],
    );
    expect(rows[0]).toEqual({ n: 1 });
  });
});

describe("attempt fencing", () => {
  it("carries attempt 1 on accept and refuses a stale attempt without changing anything", async () => {
    const jobId = await orderOn(env.agentId);
    const accepted = await setStatus(env, jobId, { status: "accepted" });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ status: "accepted", attempt: 1 });
    const before = await jobSnapshot(env, jobId);
    const stale = await setStatus(env, jobId, { status: "running", attempt: 2 });
    expectProblem(stale, "ATTEMPT_MISMATCH");
    expect(await jobSnapshot(env, jobId)).toEqual(before);
    expect(before.status).toBe("accepted");
  });

  it("refuses an accept with a wrong attempt", async () => {
    const jobId = await orderOn(env.agentId);
    const before = await jobSnapshot(env, jobId);
    const res = await setStatus(env, jobId, { status: "accepted", attempt: 2 });
    expectProblem(res, "ATTEMPT_MISMATCH");
    expect(await jobSnapshot(env, jobId)).toEqual(before);
  });

  it.each(["running", "failed"])(
    "without attempt, applies %s to the current attempt",
    async (status) => {
      const jobId = await acceptedJob();
      // The job is at attempt 2 after a lapsed lease: an unfenced call acts on attempt 2.
      await env.database.db.query(
        "UPDATE jobs SET attempt = 2, changed_by = 'system' WHERE job_id = $1",
        [jobId],
      );
      const res = await setStatus(env, jobId, { status });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ status, attempt: 2 });
      const stale = await setStatus(env, jobId, { status: "failed", attempt: 1 });
      expectProblem(stale, "ATTEMPT_MISMATCH");
    },
  );

  it("refuses to complete with a stale attempt", async () => {
    const jobId = await runningJob();
    const before = await jobSnapshot(env, jobId);
    const res = await complete(jobId, { attempt: 2 });
    expectProblem(res, "ATTEMPT_MISMATCH");
    expect(await jobSnapshot(env, jobId)).toEqual(before);
    expect(before.status).toBe("running");
  });
});

describe("progress", () => {
  it("records a progress report while running", async () => {
    const jobId = await runningJob();
    const before = await jobSnapshot(env, jobId);
    const res = await setStatus(env, jobId, {
      status: "running",
      attempt: 1,
      progress: 40,
      message: "indexing",
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      status: "running",
      progress: 40,
      progress_message: "indexing",
    });
    const after = await jobSnapshot(env, jobId);
    expect(after).toMatchObject({ progress: 40, progress_message: "indexing" });
    expect(after.events).toBe(before.events + 1);
    const { rows } = await env.database.db.query(
      `SELECT from_status, to_status, progress, message FROM job_events
       WHERE job_id = $1 ORDER BY event_id DESC LIMIT 1`,
      [jobId],
    );
    expect(rows[0]).toEqual({
      from_status: "running",
      to_status: "running",
      progress: 40,
      message: "indexing",
    });
  });

  it.each([
    ["status accepted", { status: "accepted", progress: 10 }, "progress"],
    ["progress 101", { status: "running", attempt: 1, progress: 101 }, "progress"],
  ])("refuses %s with 400", async (_, body, field) => {
    const jobId = await acceptedJob();
    const before = await jobSnapshot(env, jobId);
    const res = await setStatus(env, jobId, body);
    expectProblem(res, "VALIDATION_FAILED");
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(await jobSnapshot(env, jobId)).toEqual(before);
  });
});

describe("failure codes", () => {
  it.each([
    [
      { reason: "tool crashed" },
      { failure_code: "executor_error", decision_reason: "tool crashed" },
    ],
    [{ failure_code: "no_output" }, { failure_code: "no_output", decision_reason: null }],
  ])("fails with %o", async (extra, expected) => {
    const jobId = await runningJob();
    const res = await setStatus(env, jobId, { status: "failed", attempt: 1, ...extra });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: "failed", ...expected });
    expect(await jobSnapshot(env, jobId)).toMatchObject({ status: "failed", ...expected });
  });

  it.each([
    ["expired", "INVALID_FAILURE_CODE"],
    ["lease_lost", "INVALID_FAILURE_CODE"],
    ["exploded", "VALIDATION_FAILED"],
  ] as const)("refuses failure_code %s", async (code, errorCode) => {
    const jobId = await runningJob();
    const before = await jobSnapshot(env, jobId);
    const res = await setStatus(env, jobId, { status: "failed", attempt: 1, failure_code: code });
    expectProblem(res, errorCode);
    expect(await jobSnapshot(env, jobId)).toEqual(before);
  });
});

describe("complete", () => {
  it.each(["JSON", "multipart"])("completes with a %s body holding only attempt", async (kind) => {
    const jobId = await runningJob();
    const form = multipart([{ name: "attempt", value: "1" }]);
    const res =
      kind === "JSON"
        ? await complete(jobId, { attempt: 1 })
        : await complete(jobId, form.body, form.headers);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: "completed", progress: 100, attempt: 1 });
    expect(res.body.completed_at).toMatch(/Z$/);
    expect(await jobSnapshot(env, jobId)).toMatchObject({ status: "completed", progress: 100 });
  });

  it("refuses a multipart body with a file part before the attempt", async () => {
    const jobId = await runningJob();
    const before = await jobSnapshot(env, jobId);
    const attempt = { name: "attempt", value: "1" };
    const file = { name: "files", value: "hello", filename: "out.txt" };
    const form = multipart([file, attempt]);
    const res = await complete(jobId, form.body, form.headers);
    expectProblem(res, "MALFORMED_MULTIPART");
    expect(await jobSnapshot(env, jobId)).toEqual(before);
    expect(before.status).toBe("running");
  });

  it("completes with a file part after the attempt", async () => {
    const jobId = await runningJob();
    const form = multipart([
      { name: "attempt", value: "1" },
      { name: "files", value: "hello", filename: "out.txt" },
    ]);
    const res = await complete(jobId, form.body, form.headers);
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("completed");
  });

  it("refuses a multipart body with an unknown part, a repeated attempt or a late attempt", async () => {
    const jobId = await runningJob();
    const before = await jobSnapshot(env, jobId);
    const bodies = [
      multipart([{ name: "note", value: "done" }]),
      multipart([
        { name: "attempt", value: "1" },
        { name: "attempt", value: "1" },
      ]),
      multipart([
        { name: "files", value: "x", filename: "a.txt" },
        { name: "attempt", value: "1" },
      ]),
    ];
    for (const { body, headers } of bodies) {
      expectProblem(await complete(jobId, body, headers), "MALFORMED_MULTIPART");
    }
    expect(await jobSnapshot(env, jobId)).toEqual(before);
  });

  it("refuses an attempt field that is not a whole number from 1 to 1000", async () => {
    const jobId = await runningJob();
    const before = await jobSnapshot(env, jobId);
    for (const value of ["0", "1001", "abc", "1.5", "999999999999"]) {
      const { body, headers } = multipart([{ name: "attempt", value }]);
      const res = await complete(jobId, body, headers);
      expectProblem(res, "VALIDATION_FAILED");
      expect(res.body.errors[0]).toMatchObject({ in: "body", field: "attempt" });
    }
    expect(await jobSnapshot(env, jobId)).toEqual(before);
  });

  it("completes without any attempt: no body, {} or a multipart body of files only", async () => {
    for (const send of [
      (jobId: string) =>
        env.call("POST", `/v1/executor/jobs/${jobId}/complete`, { key: env.provider.key }),
      (jobId: string) => complete(jobId, {}),
      (jobId: string) => {
        const files = multipart([{ name: "files", value: "# Done", filename: "summary.md" }]);
        return complete(jobId, files.body, files.headers);
      },
    ]) {
      const jobId = await runningJob();
      const res = await send(jobId);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ status: "completed", attempt: 1 });
    }
  });

  it("refuses to complete a canceled job", async () => {
    const jobId = await runningJob();
    const cancel = await env.call("POST", `/v1/jobs/${jobId}/cancel`, { key: env.buyer.key });
    expect(cancel.status, cancel.text).toBe(200);
    const before = await jobSnapshot(env, jobId);
    const res = await complete(jobId, { attempt: 1 });
    expectProblem(res, "JOB_CANCELED");
    expect(await jobSnapshot(env, jobId)).toEqual(before);
    expect(before.status).toBe("canceled");
  });
});

describe("another provider", () => {
  it("cannot see or change the job (404 JOB_NOT_FOUND)", async () => {
    const pendingId = await orderOn(env.agentId);
    const runningId = await runningJob();
    const beforePending = await jobSnapshot(env, pendingId);
    const beforeRunning = await jobSnapshot(env, runningId);
    const other = env.provider2.key;
    const calls = [
      await setStatus(env, pendingId, { status: "accepted" }, other),
      await setStatus(env, runningId, { status: "running", attempt: 1, progress: 5 }, other),
      await setStatus(env, runningId, { status: "failed", attempt: 1 }, other),
      await env.call("POST", `/v1/executor/jobs/${runningId}/complete`, {
        key: other,
        body: { attempt: 1 },
      }),
    ];
    for (const res of calls) expectProblem(res, "JOB_NOT_FOUND");
    expect(await jobSnapshot(env, pendingId)).toEqual(beforePending);
    expect(await jobSnapshot(env, runningId)).toEqual(beforeRunning);
  });
});
