import { JOB_STATUSES, type JobStatus, TERMINAL_STATUSES, TRANSITIONS } from "@agnt/contract";
import { describe, expect, it } from "vitest";
import { jobSnapshot } from "../../test/expect.ts";
import { orderJob, setStatus, useTestEnv } from "../../test/harness.ts";

const env = useTestEnv();

type Action = "accepted" | "rejected" | "running" | "failed" | "complete";
const ACTIONS: Action[] = ["accepted", "rejected", "running", "failed", "complete"];

/** The status an executor action moves a job to. */
const targetOf = (action: Action): JobStatus => (action === "complete" ? "completed" : action);

const allowed = (from: JobStatus, to: JobStatus, actor: "executor" | "buyer") =>
  TRANSITIONS.some((t) => t.from === from && t.to === to && t.actor === actor);

async function lastEvent(jobId: string) {
  const { rows } = await env.database.db.query(
    `SELECT from_status, to_status, actor, attempt FROM job_events
     WHERE job_id = $1 ORDER BY event_id DESC LIMIT 1`,
    [jobId],
  );
  return rows[0];
}

/** Performs an executor action as `provider`, always at the job's attempt (1). */
function act(jobId: string, action: Action) {
  switch (action) {
    case "complete":
      return env.call("POST", `/v1/executor/jobs/${jobId}/complete`, {
        key: env.provider.key,
        body: { attempt: 1 },
      });
    case "running":
      return setStatus(env, jobId, { status: "running", attempt: 1, progress: 50, message: "m" });
    case "rejected":
    case "failed":
      return setStatus(env, jobId, { status: action, attempt: 1, reason: `${action} by test` });
    default:
      return setStatus(env, jobId, { status: action, attempt: 1 });
  }
}

const cancel = (jobId: string) =>
  env.call("POST", `/v1/jobs/${jobId}/cancel`, {
    key: env.buyer.key,
    body: { reason: "no longer needed" },
  });

/** A fresh job driven to `status` through the API. */
async function jobIn(status: JobStatus): Promise<string> {
  const jobId: string = (await orderJob(env)).job_id;
  // Starts without progress, so that a progress report from "running" is a change.
  const start = () => setStatus(env, jobId, { status: "running", attempt: 1 });
  const steps: Record<JobStatus, (() => ReturnType<typeof act>)[]> = {
    pending: [],
    accepted: [() => act(jobId, "accepted")],
    running: [() => act(jobId, "accepted"), start],
    completed: [() => act(jobId, "accepted"), start, () => act(jobId, "complete")],
    failed: [() => act(jobId, "accepted"), () => act(jobId, "failed")],
    rejected: [() => act(jobId, "rejected")],
    canceled: [() => cancel(jobId)],
  };
  for (const step of steps[status]) {
    const res = await step();
    expect(res.status, res.text).toBe(200);
  }
  expect((await jobSnapshot(env, jobId)).status).toBe(status);
  return jobId;
}

const executorCases = JOB_STATUSES.flatMap((from) =>
  ACTIONS.map((action) => ({ from, action, ok: allowed(from, targetOf(action), "executor") })),
);

describe("executor actions, table-driven from TRANSITIONS", () => {
  it("covers exactly the executor transitions of the table", () => {
    const fromTable = TRANSITIONS.filter((t) => t.actor === "executor").map(
      (t) => `${t.from}->${t.to}`,
    );
    const fromCases = executorCases
      .filter((c) => c.ok)
      .map((c) => `${c.from}->${targetOf(c.action)}`);
    expect(fromCases.sort()).toEqual(fromTable.sort());
    expect(allowed("running", "completed", "executor")).toBe(true);
  });

  it.each(executorCases)("$from + $action → allowed: $ok", async ({ from, action, ok }) => {
    const jobId = await jobIn(from);
    const before = await jobSnapshot(env, jobId);
    const res = await act(jobId, action);
    const after = await jobSnapshot(env, jobId);
    if (ok) {
      expect(res.status, res.text).toBe(200);
      expect(res.body.status).toBe(targetOf(action));
      expect(after.status).toBe(targetOf(action));
      expect(after.events).toBe(before.events + 1);
      expect(await lastEvent(jobId)).toEqual({
        from_status: from,
        to_status: targetOf(action),
        actor: "executor",
        attempt: 1,
      });
    } else {
      expect(res.status, res.text).toBe(409);
      expect(res.body.code).toBe(from === "canceled" ? "JOB_CANCELED" : "INVALID_TRANSITION");
      expect(after).toEqual(before);
    }
  });
});

describe("buyer cancel, table-driven from TRANSITIONS", () => {
  const cases = JOB_STATUSES.map((from) => ({ from, ok: allowed(from, "canceled", "buyer") }));

  it("allows cancel exactly from pending, accepted and running", () => {
    expect(cases.filter((c) => c.ok).map((c) => c.from)).toEqual([
      "pending",
      "accepted",
      "running",
    ]);
  });

  it.each(cases)("cancel from $from → allowed: $ok", async ({ from, ok }) => {
    const jobId = await jobIn(from);
    const before = await jobSnapshot(env, jobId);
    const res = await cancel(jobId);
    const after = await jobSnapshot(env, jobId);
    if (ok) {
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ status: "canceled", decision_reason: "no longer needed" });
      expect(res.body.completed_at).toMatch(/Z$/);
      expect(after.events).toBe(before.events + 1);
      expect(await lastEvent(jobId)).toEqual({
        from_status: from,
        to_status: "canceled",
        actor: "buyer",
        attempt: 1,
      });
    } else {
      expect(res.status, res.text).toBe(409);
      expect(res.body.code).toBe("INVALID_TRANSITION");
      expect(after).toEqual(before);
    }
  });
});

describe("terminal statuses", () => {
  it.each([...TERMINAL_STATUSES])("%s is absorbing", async (status) => {
    const jobId = await jobIn(status);
    const before = await jobSnapshot(env, jobId);
    for (const action of ACTIONS) {
      const res = await act(jobId, action);
      expect(res.status, `${action}: ${res.text}`).toBe(409);
    }
    expect((await cancel(jobId)).status).toBe(409);
    expect(await jobSnapshot(env, jobId)).toEqual(before);
  });
});

describe("job_events", () => {
  it("records each change once, in order, and nothing for a refused call", async () => {
    const jobId: string = (await orderJob(env)).job_id;
    const steps = [
      () => setStatus(env, jobId, { status: "accepted" }),
      () => setStatus(env, jobId, { status: "running", attempt: 1 }),
      () =>
        setStatus(env, jobId, { status: "running", attempt: 1, progress: 40, message: "indexing" }),
      () => act(jobId, "complete"),
    ];
    for (const step of steps) {
      const res = await step();
      expect(res.status, res.text).toBe(200);
    }
    const refused = await setStatus(env, jobId, { status: "accepted" });
    expect(refused.status).toBe(409);

    const { rows } = await env.database.db.query<Record<string, unknown>>(
      `SELECT from_status, to_status, actor, actor_account_id, attempt, progress, message, at
       FROM job_events WHERE job_id = $1 ORDER BY event_id`,
      [jobId],
    );
    const buyer = env.buyer.accountId;
    const provider = env.provider.accountId;
    expect(rows.map(({ at: _at, ...row }) => row)).toEqual([
      {
        from_status: null,
        to_status: "pending",
        actor: "buyer",
        actor_account_id: buyer,
        attempt: 1,
        progress: null,
        message: null,
      },
      {
        from_status: "pending",
        to_status: "accepted",
        actor: "executor",
        actor_account_id: provider,
        attempt: 1,
        progress: null,
        message: null,
      },
      {
        from_status: "accepted",
        to_status: "running",
        actor: "executor",
        actor_account_id: provider,
        attempt: 1,
        progress: null,
        message: null,
      },
      {
        from_status: "running",
        to_status: "running",
        actor: "executor",
        actor_account_id: provider,
        attempt: 1,
        progress: 40,
        message: "indexing",
      },
      {
        from_status: "running",
        to_status: "completed",
        actor: "executor",
        actor_account_id: provider,
        attempt: 1,
        progress: 100,
        message: "indexing",
      },
    ]);
    const times = rows.map((row) => row.at as Date);
    for (const at of times) expect(at).toBeInstanceOf(Date);
    for (let i = 1; i < times.length; i++) {
      expect((times[i] as Date).getTime()).toBeGreaterThanOrEqual((times[i - 1] as Date).getTime());
    }
  });

  it("is append-only: UPDATE and DELETE raise an error", async () => {
    const jobId: string = (await orderJob(env)).job_id;
    const { db } = env.database;
    await expect(
      db.query("UPDATE job_events SET reason = 'rewritten' WHERE job_id = $1", [jobId]),
    ).rejects.toThrow(/append-only/);
    await expect(db.query("DELETE FROM job_events WHERE job_id = $1", [jobId])).rejects.toThrow(
      /append-only/,
    );
    const { rows } = await db.query("SELECT to_status, reason FROM job_events WHERE job_id = $1", [
      jobId,
    ]);
    expect(rows).toEqual([{ to_status: "pending", reason: null }]);
  });
});

describe("timestamps", () => {
  it("come from the database clock and are ordered", async () => {
    const jobId = await jobIn("completed");
    const res = await env.call("GET", `/v1/jobs/${jobId}`, { key: env.buyer.key });
    expect(res.status).toBe(200);
    const job = res.body;
    for (const field of ["created_at", "accepted_at", "started_at", "updated_at", "completed_at"]) {
      expect(job[field], field).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const ms = (field: string) => Date.parse(job[field]);
    expect(ms("created_at")).toBeLessThanOrEqual(ms("accepted_at"));
    expect(ms("accepted_at")).toBeLessThanOrEqual(ms("started_at"));
    expect(ms("started_at")).toBeLessThanOrEqual(ms("completed_at"));
    const { rows } = await env.database.db.query<Record<string, Date>>(
      `SELECT created_at, accepted_at, started_at, completed_at, now() AS db_now
       FROM jobs WHERE job_id = $1`,
      [jobId],
    );
    const row = rows[0] as Record<string, Date>;
    for (const field of ["created_at", "accepted_at", "started_at", "completed_at"]) {
      expect(job[field], field).toBe((row[field] as Date).toISOString());
    }
    expect((row.completed_at as Date).getTime()).toBeLessThanOrEqual(
      (row.db_now as Date).getTime(),
    );
  });
});
