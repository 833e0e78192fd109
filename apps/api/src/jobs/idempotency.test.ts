import { randomUUID } from "node:crypto";
import { ERROR_CODES, type ErrorCode, problemType } from "@agnt/contract";
import { describe, expect, it } from "vitest";
import { type Caller, type CallResult, useTestEnv } from "../../test/harness.ts";

describe("POST /v1/jobs with Idempotency-Key", () => {
  const env = useTestEnv();

  /** A fresh key per test, so tests share nothing. */
  const newKey = () => `key-${randomUUID()}`;
  const bodyFor = (prompt: string) => ({
    agent_id: env.agentId,
    prompt,
    params: { language: "python", max_files: 5, paths: ["a.py", "b.py"] },
  });
  const post = (key: string, body: unknown, caller: Caller = env.buyer) =>
    env.call("POST", "/v1/jobs", {
      key: caller.key,
      body,
      // The harness sets the content type for objects only; raw strings are sent as JSON too.
      headers: { "Idempotency-Key": key, "content-type": "application/json" },
    });

  async function jobRows(prompt: string): Promise<string[]> {
    const { rows } = await env.database.db.query<{ job_id: string }>(
      "SELECT job_id FROM jobs WHERE prompt = $1 ORDER BY created_at",
      [prompt],
    );
    return rows.map((row) => row.job_id);
  }

  async function keyRows(key: string) {
    const { rows } = await env.database.db.query<{ buyer_account_id: string; job_id: string }>(
      "SELECT buyer_account_id, job_id FROM idempotency_keys WHERE key = $1",
      [key],
    );
    return rows;
  }

  const expire = (key: string) =>
    env.database.db.query(
      "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1",
      [key],
    );

  function expectCreated(res: CallResult) {
    expect(res.status, res.text).toBe(201);
    expect(res.headers["idempotent-replayed"]).toBeUndefined();
  }

  function expectReplayed(res: CallResult, jobId: string) {
    expect(res.status, res.text).toBe(201);
    expect(res.headers["idempotent-replayed"]).toBe("true");
    expect(res.body.job_id).toBe(jobId);
  }

  function expectProblem(res: CallResult, code: ErrorCode) {
    expect(res.status, res.text).toBe(ERROR_CODES[code].status);
    expect(String(res.headers["content-type"])).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      type: problemType(code),
      title: ERROR_CODES[code].title,
      status: ERROR_CODES[code].status,
      code,
      detail: expect.any(String),
    });
  }

  it("replays the same key and body: one job, marked as replayed", async () => {
    const key = newKey();
    const prompt = `sequential ${key}`;
    const first = await post(key, bodyFor(prompt));
    expectCreated(first);
    const second = await post(key, bodyFor(prompt));
    expectReplayed(second, first.body.job_id);
    expect(second.body).toEqual(first.body);
    expect(await jobRows(prompt)).toEqual([first.body.job_id]);
    expect(await keyRows(key)).toEqual([
      { buyer_account_id: env.buyer.accountId, job_id: first.body.job_id },
    ]);
  });

  it("treats a body with reordered keys as the same request", async () => {
    const key = newKey();
    const prompt = `reordered ${key}`;
    const first = await post(key, bodyFor(prompt));
    expectCreated(first);
    // Sent as a raw string so the key order on the wire really differs.
    const reordered = `{"params":{"paths":["a.py","b.py"],"max_files":5,"language":"python"},"prompt":${JSON.stringify(prompt)},"agent_id":"${env.agentId}"}`;
    const second = await post(key, reordered);
    expectReplayed(second, first.body.job_id);
    expect(await jobRows(prompt)).toHaveLength(1);
  });

  it("creates exactly one job for 20 concurrent identical requests", async () => {
    const key = newKey();
    const prompt = `concurrent ${key}`;
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => post(key, bodyFor(prompt))),
    );
    for (const res of responses) {
      expect(res.status, res.text).toBeGreaterThanOrEqual(200);
      expect(res.status, res.text).toBeLessThan(300);
    }
    const ids = new Set(responses.map((res) => res.body.job_id));
    expect(ids.size).toBe(1);
    const rows = await jobRows(prompt);
    expect(rows).toHaveLength(1);
    expect(ids.has(rows[0] as string)).toBe(true);
    expect(await keyRows(key)).toEqual([
      { buyer_account_id: env.buyer.accountId, job_id: rows[0] },
    ]);
    const replayed = responses.filter((res) => res.headers["idempotent-replayed"] === "true");
    expect(replayed).toHaveLength(19);
  });

  it("refuses the same key with a different prompt or params: 422, no new job", async () => {
    const key = newKey();
    const prompt = `reused ${key}`;
    const first = await post(key, bodyFor(prompt));
    expectCreated(first);
    const variants = [
      { ...bodyFor(prompt), prompt: `${prompt} (changed)` },
      { ...bodyFor(prompt), params: { language: "go", max_files: 5, paths: ["a.py", "b.py"] } },
      { ...bodyFor(prompt), params: { language: "python", max_files: 5 } },
      { ...bodyFor(prompt), params: { language: "python", max_files: 5, paths: ["b.py", "a.py"] } },
      { ...bodyFor(prompt), agent_id: env.otherAgentId },
    ];
    const before = await env.database.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM jobs",
    );
    for (const variant of variants) {
      const res = await post(key, variant);
      expectProblem(res, "IDEMPOTENCY_KEY_REUSED");
      expect(res.headers["idempotent-replayed"]).toBeUndefined();
    }
    const after = await env.database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs");
    expect(after.rows[0]?.n).toBe(before.rows[0]?.n);
    expect(await keyRows(key)).toEqual([
      { buyer_account_id: env.buyer.accountId, job_id: first.body.job_id },
    ]);
    // The original request still replays.
    expectReplayed(await post(key, bodyFor(prompt)), first.body.job_id);
  });

  it("scopes keys per buyer", async () => {
    const key = newKey();
    const prompt = `scoped ${key}`;
    const mine = await post(key, bodyFor(prompt));
    expectCreated(mine);
    const theirs = await post(key, bodyFor(prompt), env.buyer2);
    expectCreated(theirs);
    expect(theirs.body.job_id).not.toBe(mine.body.job_id);
    expect((await jobRows(prompt)).sort()).toEqual([mine.body.job_id, theirs.body.job_id].sort());
    const rows = await keyRows(key);
    expect(rows).toHaveLength(2);
    expect(rows).toContainEqual({
      buyer_account_id: env.buyer2.accountId,
      job_id: theirs.body.job_id,
    });
    // buyer2 replays its own job, never the first buyer's.
    const again = await post(key, bodyFor(prompt), env.buyer2);
    expectReplayed(again, theirs.body.job_id);
    // A different body from buyer2 is judged against buyer2's own use of the key.
    expectProblem(
      await post(key, { ...bodyFor(prompt), prompt: "other" }, env.buyer2),
      "IDEMPOTENCY_KEY_REUSED",
    );
  });

  it("forgets a key after 24 hours: the same body creates a new job", async () => {
    const key = newKey();
    const prompt = `expired ${key}`;
    const first = await post(key, bodyFor(prompt));
    expectCreated(first);
    await expire(key);
    const second = await post(key, bodyFor(prompt));
    expectCreated(second);
    expect(second.body.job_id).not.toBe(first.body.job_id);
    expect(await jobRows(prompt)).toHaveLength(2);
    expect(await keyRows(key)).toEqual([
      { buyer_account_id: env.buyer.accountId, job_id: second.body.job_id },
    ]);
    // The key is live again, bound to the new job.
    expectReplayed(await post(key, bodyFor(prompt)), second.body.job_id);
  });

  it("forgets a key after 24 hours: a different body is accepted", async () => {
    const key = newKey();
    const prompt = `expired-other ${key}`;
    const first = await post(key, bodyFor(prompt));
    expectCreated(first);
    await expire(key);
    const changed = { ...bodyFor(prompt), prompt: `${prompt} v2` };
    const second = await post(key, changed);
    expectCreated(second);
    expect(second.body.job_id).not.toBe(first.body.job_id);
    expect(second.body.prompt).toBe(`${prompt} v2`);
    expectReplayed(await post(key, changed), second.body.job_id);
    expectProblem(await post(key, bodyFor(prompt)), "IDEMPOTENCY_KEY_REUSED");
  });

  it.each([
    ["256 characters", "k".repeat(256)],
    ["a space", "my key"],
    ["a non-ASCII character", "clé"],
  ])("refuses a key with %s: 400 in header", async (_name, key) => {
    const prompt = `bad header ${randomUUID()}`;
    const res = await post(key, bodyFor(prompt));
    expectProblem(res, "VALIDATION_FAILED");
    expect(res.body.errors[0]).toMatchObject({ in: "header", field: "idempotency-key" });
    expect(await jobRows(prompt)).toHaveLength(0);
    expect(await keyRows(key)).toHaveLength(0);
  });

  it("accepts a key of 255 printable characters", async () => {
    const key = `${randomUUID()}${"~".repeat(219)}`;
    expect(key).toHaveLength(255);
    const prompt = `long key ${key}`;
    const first = await post(key, bodyFor(prompt));
    expectCreated(first);
    expectReplayed(await post(key, bodyFor(prompt)), first.body.job_id);
  });

  it("does not consume a key on a refused request", async () => {
    const key = newKey();
    const prompt = `refused ${key}`;
    const invalid = await post(key, { ...bodyFor(prompt), params: { language: "rust" } });
    expectProblem(invalid, "PARAMS_INVALID");
    const unknownAgent = await post(key, { ...bodyFor(prompt), agent_id: randomUUID() });
    expectProblem(unknownAgent, "AGENT_NOT_FOUND");
    const badBody = await post(key, { ...bodyFor(prompt), prompt: "" });
    expectProblem(badBody, "VALIDATION_FAILED");
    expect(await keyRows(key)).toHaveLength(0);
    expect(await jobRows(prompt)).toHaveLength(0);

    const valid = await post(key, bodyFor(prompt));
    expectCreated(valid);
    expect(await jobRows(prompt)).toEqual([valid.body.job_id]);
    expect(await keyRows(key)).toEqual([
      { buyer_account_id: env.buyer.accountId, job_id: valid.body.job_id },
    ]);
  });

  it("without a key, the same body twice creates two jobs", async () => {
    const prompt = `no key ${randomUUID()}`;
    const call = () => env.call("POST", "/v1/jobs", { key: env.buyer.key, body: bodyFor(prompt) });
    const first = await call();
    const second = await call();
    expectCreated(first);
    expectCreated(second);
    expect(second.body.job_id).not.toBe(first.body.job_id);
    expect(await jobRows(prompt)).toHaveLength(2);
  });
});
