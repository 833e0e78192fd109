import { randomUUID } from "node:crypto";
import type { JobStatus } from "@agnt/contract";
import { beforeAll, describe, expect, it } from "vitest";
import { expectProblem, sleep } from "../../test/expect.ts";
import {
  type CallResult,
  orderJob,
  setStatus,
  type TestEnv,
  useTestEnv,
} from "../../test/harness.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RFC3339_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

async function countJobs(env: TestEnv): Promise<number> {
  const { rows } = await env.database.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM jobs",
  );
  return rows[0]?.n ?? -1;
}

/** Runs a request that must be refused, and checks that it created no job row. */
async function refused(env: TestEnv, request: () => Promise<CallResult>): Promise<CallResult> {
  const before = await countJobs(env);
  const res = await request();
  expect(await countJobs(env)).toBe(before);
  return res;
}

async function ok(request: Promise<CallResult>): Promise<CallResult> {
  const res = await request;
  expect(res.status, res.text).toBe(200);
  return res;
}

const complete = (env: TestEnv, jobId: string) =>
  env.call("POST", `/v1/executor/jobs/${jobId}/complete`, {
    key: env.provider.key,
    body: { attempt: 1 },
  });

/** Orders a job as `buyer` and drives it into `status` through the real routes. */
async function jobIn(env: TestEnv, status: JobStatus): Promise<string> {
  const jobId: string = (await orderJob(env)).job_id;
  const run = [{ status: "accepted" }, { status: "running", attempt: 1, progress: 40 }];
  const updates = {
    pending: [],
    accepted: run.slice(0, 1),
    running: run,
    completed: run,
    failed: [...run, { status: "failed", attempt: 1, reason: "boom" }],
    rejected: [{ status: "rejected", reason: "no" }],
    canceled: [],
  }[status];
  for (const update of updates) await ok(setStatus(env, jobId, update));
  if (status === "completed") await ok(complete(env, jobId));
  if (status === "canceled") {
    await ok(env.call("POST", `/v1/jobs/${jobId}/cancel`, { key: env.buyer.key }));
  }
  return jobId;
}

const getJob = (env: TestEnv, jobId: string, query = "") =>
  env.call("GET", `/v1/jobs/${jobId}${query}`, { key: env.buyer.key });

const ids = (res: CallResult): string[] => res.body.jobs.map((j: { job_id: string }) => j.job_id);

describe("POST /v1/jobs", () => {
  const env = useTestEnv();
  const create = (body: unknown) => env.call("POST", "/v1/jobs", { key: env.buyer.key, body });
  const valid = () => ({
    agent_id: env.agentId,
    prompt: "Add tests",
    params: { language: "go", max_files: 7, paths: ["src/a.go"] },
  });

  it("creates a pending job and returns it whole", async () => {
    const before = await countJobs(env);
    const res = await create(valid());
    expect(res.status, res.text).toBe(201);
    expect(res.body).toEqual({
      job_id: expect.stringMatching(UUID),
      agent_id: env.agentId,
      status: "pending",
      prompt: "Add tests",
      params: { language: "go", max_files: 7, paths: ["src/a.go"] },
      progress: null,
      progress_message: null,
      decision_reason: null,
      failure_code: null,
      attempt: 1,
      max_attempts: 3,
      created_at: expect.stringMatching(RFC3339_Z),
      accepted_at: null,
      started_at: null,
      updated_at: expect.stringMatching(RFC3339_Z),
      completed_at: null,
      duration_seconds: null,
      run_seconds: null,
      timeout_seconds: null,
      expires_at: null,
      lease_expires_at: null,
      input_files: [],
    });
    expect(await countJobs(env)).toBe(before + 1);
    const { rows } = await env.database.db.query<{ buyer_account_id: string }>(
      "SELECT buyer_account_id FROM jobs WHERE job_id = $1",
      [res.body.job_id],
    );
    expect(rows).toEqual([{ buyer_account_id: env.buyer.accountId }]);
    expect((await getJob(env, res.body.job_id)).body).toEqual(res.body);
  });

  it("defaults params to {}", async () => {
    const strict = await refused(env, () => create({ agent_id: env.agentId, prompt: "none" }));
    expectProblem(strict, "PARAMS_INVALID");
    expect(strict.body.errors).toEqual([
      { in: "params", field: "params.language", message: expect.any(String) },
    ]);

    const lenient = await env.addAgent({ inputSchema: { type: "object" } });
    const res = await create({ agent_id: lenient, prompt: "no params" });
    expect(res.status, res.text).toBe(201);
    expect(res.body.params).toEqual({});
  });

  it("answers 404 AGENT_NOT_FOUND for an unknown agent", async () => {
    const res = await refused(env, () => create({ ...valid(), agent_id: randomUUID() }));
    expectProblem(res, "AGENT_NOT_FOUND");
  });

  it.each([
    ["missing required", {}, "params.language"],
    ["wrong enum", { language: "rust" }, "params.language"],
    ["wrong type", { language: "go", max_files: "3" }, "params.max_files"],
    ["below minimum", { language: "go", max_files: 0 }, "params.max_files"],
    ["above maximum", { language: "go", max_files: 51 }, "params.max_files"],
    ["non-integer", { language: "go", max_files: 2.5 }, "params.max_files"],
    ["additional property", { language: "go", extra: true }, "params.extra"],
    ["array item type", { language: "go", paths: ["a", 2] }, "params.paths[1]"],
  ])("refuses params (%s) with 422 PARAMS_INVALID", async (_name, params, field) => {
    const res = await refused(env, () => create({ ...valid(), params }));
    expectProblem(res, "PARAMS_INVALID");
    expect(res.body.errors).toEqual([{ in: "params", field, message: expect.any(String) }]);
    expect(res.body.errors[0].message.length).toBeGreaterThan(0);
  });

  it("lists several params failures together", async () => {
    const params = { language: "rust", max_files: "3", extra: 1 };
    const res = await refused(env, () => create({ ...valid(), params }));
    expectProblem(res, "PARAMS_INVALID");
    const fields = res.body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(["params.extra", "params.language", "params.max_files"]);
    for (const error of res.body.errors) expect(error.in).toBe("params");
    const language = res.body.errors.find((e: { field: string }) => e.field === "params.language");
    for (const value of ["typescript", "python", "go"]) expect(language.message).toContain(value);
  });

  it.each([
    ["missing prompt", { prompt: undefined }, "prompt"],
    ["empty prompt", { prompt: "" }, "prompt"],
    ["prompt not a string", { prompt: 42 }, "prompt"],
    ["unknown top-level field", { priority: "high" }, "priority"],
    ["agent_id not a UUID", { agent_id: "agent-1" }, "agent_id"],
    ["params not an object", { params: "language=go" }, "params"],
  ])("refuses a body with %s with 400 VALIDATION_FAILED", async (_name, change, field) => {
    const res = await refused(env, () => create({ ...valid(), ...change }));
    expectProblem(res, "VALIDATION_FAILED");
    expect(res.body.errors).toContainEqual({ in: "body", field, message: expect.any(String) });
  });
});

describe("GET /v1/jobs", () => {
  const env = useTestEnv();
  const list = (query: string, key = env.buyer.key) => env.call("GET", `/v1/jobs${query}`, { key });
  // The buyer's jobs in the order they were ordered.
  const mine: string[] = [];
  const theirs: string[] = [];
  let secondAgent = "";

  beforeAll(async () => {
    secondAgent = await env.addAgent();
    for (let i = 0; i < 3; i++) mine.push((await orderJob(env, { prompt: `a${i}` })).job_id);
    for (let i = 0; i < 2; i++) {
      mine.push((await orderJob(env, { agent_id: secondAgent, prompt: `b${i}` })).job_id);
    }
    for (let i = 0; i < 2; i++) theirs.push((await orderJob(env, {}, env.buyer2.key)).job_id);
    await ok(setStatus(env, mine[1] as string, { status: "accepted" }));
    await ok(env.call("POST", `/v1/jobs/${mine[3]}/cancel`, { key: env.buyer.key }));
  });

  it("lists only the caller's jobs, newest first, with the total", async () => {
    const res = await list("");
    expect(res.status, res.text).toBe(200);
    expect(res.body.total).toBe(5);
    expect(ids(res)).toEqual([...mine].reverse());
    for (const job of res.body.jobs) {
      expect(theirs).not.toContain(job.job_id);
      expect(job).toHaveProperty("duration_seconds");
      expect(job.created_at).toMatch(RFC3339_Z);
    }
    // Newest first: mine[3] (canceled) is at index 1, mine[0] (pending) last.
    expect(res.body.jobs[1].duration_seconds).toBeGreaterThanOrEqual(0);
    expect(res.body.jobs[4].duration_seconds).toBeNull();

    const other = await list("", env.buyer2.key);
    expect(other.body.total).toBe(2);
    expect(ids(other)).toEqual([...theirs].reverse());
  });

  it("breaks ties of created_at by job_id, descending", async () => {
    const tied: string[] = [];
    for (let i = 0; i < 4; i++) tied.push((await orderJob(env, {}, env.buyer2.key)).job_id);
    await env.database.db.query(
      "UPDATE jobs SET created_at = '2031-01-01T00:00:00Z' WHERE job_id = ANY($1::uuid[])",
      [tied],
    );
    const res = await list("?limit=4", env.buyer2.key);
    expect(ids(res)).toEqual([...tied].sort().reverse());
  });

  it("filters by agent_id", async () => {
    const res = await list(`?agent_id=${secondAgent}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.total).toBe(2);
    expect(ids(res)).toEqual([mine[4], mine[3]]);
    const none = await list(`?agent_id=${env.otherAgentId}`);
    expect(none.body).toEqual({ jobs: [], total: 0 });
  });

  it("filters by one or several statuses", async () => {
    const pending = await list("?status=pending");
    expect(pending.body.total).toBe(3);
    expect(ids(pending)).toEqual([mine[4], mine[2], mine[0]]);
    const two = await list("?status=accepted&status=canceled");
    expect(two.body.total).toBe(2);
    expect(ids(two)).toEqual([mine[3], mine[1]]);
    const both = await list(`?status=pending&agent_id=${secondAgent}`);
    expect(ids(both)).toEqual([mine[4]]);
    expectProblem(await list("?status=done"), "VALIDATION_FAILED");
  });

  it("pages with limit and offset without overlap", async () => {
    const pages: string[] = [];
    for (const offset of [0, 2, 4]) {
      const res = await list(`?limit=2&offset=${offset}`);
      expect(res.body.total).toBe(5);
      expect(res.body.jobs.length).toBe(offset === 4 ? 1 : 2);
      pages.push(...ids(res));
    }
    expect(pages).toEqual([...mine].reverse());
    const beyond = await list("?offset=10");
    expect(beyond.body).toEqual({ jobs: [], total: 5 });
  });

  it.each(["limit=0", "limit=101", "limit=abc", "limit=1.5", "limit=-1", "offset=-1"])(
    "refuses %s with 400",
    async (query) => {
      const res = await list(`?${query}`);
      expectProblem(res, "VALIDATION_FAILED");
      expect(res.body.errors[0]).toMatchObject({ in: "query", field: query.split("=")[0] });
    },
  );
});

describe("GET /v1/jobs/{id}", () => {
  const env = useTestEnv();

  it("returns timings and progress 100 once completed", async () => {
    const jobId = await jobIn(env, "completed");
    const res = await getJob(env, jobId);
    expect(res.status, res.text).toBe(200);
    const job = res.body;
    expect(job).toMatchObject({ job_id: jobId, status: "completed", progress: 100, attempt: 1 });
    for (const field of ["created_at", "accepted_at", "started_at", "updated_at", "completed_at"]) {
      expect(job[field]).toMatch(RFC3339_Z);
    }
    expect(job.run_seconds).toBeGreaterThanOrEqual(0);
    expect(job.duration_seconds).toBeGreaterThanOrEqual(job.run_seconds);
    expect(job.duration_seconds).toBeLessThan(60);
    expect(Date.parse(job.completed_at)).toBeGreaterThanOrEqual(Date.parse(job.started_at));
  });

  it("hides other buyers' jobs and unknown ids; refuses a malformed id", async () => {
    const jobId = await jobIn(env, "pending");
    expectProblem(
      await env.call("GET", `/v1/jobs/${jobId}`, { key: env.buyer2.key }),
      "JOB_NOT_FOUND",
    );
    expectProblem(await getJob(env, randomUUID()), "JOB_NOT_FOUND");
    const bad = await getJob(env, "not-a-uuid");
    expectProblem(bad, "VALIDATION_FAILED");
    expect(bad.body.errors[0]).toMatchObject({ in: "path", field: "job_id" });
  });

  it("wait returns as soon as the job finishes", async () => {
    const jobId = await jobIn(env, "running");
    const started = Date.now();
    const waiting = getJob(env, jobId, "?wait=5");
    await sleep(300);
    await ok(complete(env, jobId));
    const res = await waiting;
    const elapsed = Date.now() - started;
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("completed");
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
  });

  it("wait on an unfinished job returns it after the time passes", async () => {
    const jobId = await jobIn(env, "pending");
    const started = Date.now();
    const res = await getJob(env, jobId, "?wait=1");
    const elapsed = Date.now() - started;
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("pending");
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(4000);
  });

  it("wait on a finished job returns at once", async () => {
    const jobId = await jobIn(env, "canceled");
    const started = Date.now();
    const res = await getJob(env, jobId, "?wait=30");
    expect(res.body.status).toBe("canceled");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it.each(["wait=61", "wait=-1", "wait=abc"])("refuses %s with 400", async (query) => {
    const jobId = await jobIn(env, "pending");
    const res = await getJob(env, jobId, `?${query}`);
    expectProblem(res, "VALIDATION_FAILED");
    expect(res.body.errors[0]).toMatchObject({ in: "query", field: "wait" });
  });
});

describe("POST /v1/jobs/{id}/cancel", () => {
  const env = useTestEnv();
  const cancel = (jobId: string, body?: unknown, key = env.buyer.key) =>
    env.call("POST", `/v1/jobs/${jobId}/cancel`, { key, body });

  it.each(["pending", "accepted", "running"] as const)("cancels a %s job", async (status) => {
    const jobId = await jobIn(env, status);
    const res = await cancel(jobId, { reason: `changed my mind (${status})` });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      job_id: jobId,
      status: "canceled",
      decision_reason: `changed my mind (${status})`,
      failure_code: null,
    });
    expect(res.body.completed_at).toMatch(RFC3339_Z);
    expect(res.body.duration_seconds).toBeGreaterThanOrEqual(0);
    expect((await getJob(env, jobId)).body).toEqual(res.body);
  });

  it("cancels with no body at all, giving a default reason", async () => {
    const jobId = await jobIn(env, "pending");
    const res = await cancel(jobId);
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("canceled");
    expect(typeof res.body.decision_reason).toBe("string");
    expect(res.body.decision_reason.length).toBeGreaterThan(0);
    expect(res.body.completed_at).toMatch(RFC3339_Z);
    const empty = await cancel(await jobIn(env, "pending"), {});
    expect(empty.status, empty.text).toBe(200);
    expect(empty.body.decision_reason).toBe(res.body.decision_reason);
  });

  it.each(["completed", "failed", "rejected", "canceled"] as const)(
    "refuses to cancel a %s job with 409 and leaves it unchanged",
    async (status) => {
      const jobId = await jobIn(env, status);
      const before = (await getJob(env, jobId)).body;
      expect(before.status).toBe(status);
      const res = await cancel(jobId, { reason: "too late" });
      expectProblem(res, "INVALID_TRANSITION");
      expect(res.body.detail).toContain(status);
      expect((await getJob(env, jobId)).body).toEqual(before);
    },
  );

  it("refuses another buyer's job, an unknown field and a malformed id", async () => {
    const jobId = await jobIn(env, "pending");
    expectProblem(await cancel(jobId, undefined, env.buyer2.key), "JOB_NOT_FOUND");
    const unknown = await cancel(jobId, { why: "x" });
    expectProblem(unknown, "VALIDATION_FAILED");
    expect(unknown.body.errors[0]).toMatchObject({ in: "body", field: "why" });
    expect((await getJob(env, jobId)).body.status).toBe("pending");
    expectProblem(await cancel("123"), "VALIDATION_FAILED");
  });
});

describe("GET /v1/jobs/{id}/result", () => {
  const env = useTestEnv();
  const result = (jobId: string, key = env.buyer.key) =>
    env.call("GET", `/v1/jobs/${jobId}/result`, { key });

  it.each(["pending", "running", "failed"] as const)(
    "answers 409 RESULT_NOT_READY while %s",
    async (status) => {
      const res = await result(await jobIn(env, status));
      expectProblem(res, "RESULT_NOT_READY");
      expect(res.body.detail).toContain(status);
    },
  );

  it("returns the manifest once completed", async () => {
    const jobId = await jobIn(env, "completed");
    const res = await result(jobId);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ job_id: jobId, status: "completed", files: [] });
    expectProblem(await result(jobId, env.buyer2.key), "JOB_NOT_FOUND");
    expectProblem(await result(randomUUID()), "JOB_NOT_FOUND");
  });
});
