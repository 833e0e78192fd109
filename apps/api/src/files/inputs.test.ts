import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { expectProblem } from "../../test/expect.ts";
import { type CallResult, setStatus, useTestEnv } from "../../test/harness.ts";
import { multipart, type Part } from "../../test/multipart.ts";
import { expireOldFiles } from "./service.ts";

const env = useTestEnv({ uploads: { maxFileBytes: 2000, maxFiles: 5, maxTotalBytes: 5000 } });
const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

const jobPart = (overrides: Record<string, unknown> = {}): Part => ({
  name: "job",
  value: JSON.stringify({
    agent_id: env.agentId,
    prompt: "Review these",
    params: { language: "go" },
    ...overrides,
  }),
});
const file = (filename: string, value: string | Buffer): Part => ({
  name: "files",
  filename,
  value,
});

function order(parts: Part[], headers: Record<string, string> = {}): Promise<CallResult> {
  const form = multipart(parts);
  return env.call("POST", "/v1/jobs", {
    key: env.buyer.key,
    body: form.body,
    headers: { ...form.headers, ...headers },
  });
}

async function counts() {
  const { rows } = await env.database.db.query<{ jobs: number }>(
    "SELECT count(*)::int AS jobs FROM jobs",
  );
  return { jobs: rows[0]?.jobs, objects: (await env.contents.list("jobs/")).length };
}

describe("ordering with input files", () => {
  it("stores the files, lists them on the job, and hands them to the executor while it holds the job", async () => {
    const files = {
      "src/main.go": "package main\n",
      "README.md": "# hi\n",
      "data/in.bin": Buffer.from([0, 1, 2, 255]),
    };
    const res = await order([jobPart(), ...Object.entries(files).map(([n, v]) => file(n, v))]);
    expect(res.status, res.text).toBe(201);
    const expected = Object.entries(files)
      .map(([path, content]) => ({
        path,
        size_bytes: Buffer.byteLength(content),
        sha256: sha256(content),
      }))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
    expect(
      res.body.input_files.map(({ mime_type: _m, ...rest }: { mime_type: string }) => rest),
    ).toEqual(expected);
    const jobId = res.body.job_id;
    // Stored under the job's own prefix, one folder per upload, paths kept.
    const keys = await env.contents.list(`jobs/${jobId}/inputs/`);
    expect(keys).toHaveLength(3);
    for (const key of keys)
      expect(key).toMatch(
        new RegExp(`^jobs/${jobId}/inputs/[0-9a-f-]{36}/(src/main.go|README.md|data/in.bin)$`),
      );
    const detail = await env.call("GET", `/v1/jobs/${jobId}`, { key: env.buyer.key });
    expect(detail.body.input_files).toEqual(res.body.input_files);
    const listed = await env.call("GET", "/v1/executor/jobs", { key: env.provider.key });
    expect(
      listed.body.jobs.find((j: { job_id: string }) => j.job_id === jobId).input_files,
    ).toEqual(res.body.input_files);

    const inputs = (key = env.provider.key) =>
      env.call("GET", `/v1/executor/jobs/${jobId}/inputs`, { key });
    expectProblem(await inputs(), "INPUTS_NOT_AVAILABLE");
    expectProblem(await inputs(env.buyer.key), "FORBIDDEN");
    expectProblem(await inputs(env.provider2.key), "JOB_NOT_FOUND");
    await setStatus(env, jobId, { status: "accepted" });
    const handed = await inputs();
    expect(handed.status, handed.text).toBe(200);
    expect(handed.body.job_id).toBe(jobId);
    for (const entry of handed.body.files) {
      const download = await env.call("GET", entry.download_url);
      expect(download.status).toBe(200);
      expect(sha256(download.raw)).toBe(entry.sha256);
    }
    await setStatus(env, jobId, { status: "running", attempt: 1 });
    expect((await inputs()).status).toBe(200);
    await env.call("POST", `/v1/executor/jobs/${jobId}/complete`, {
      key: env.provider.key,
      body: { attempt: 1 },
    });
    expectProblem(await inputs(), "INPUTS_NOT_AVAILABLE");

    // Retention removes the inputs of finished jobs.
    await env.database.db.query(
      "UPDATE job_inputs SET created_at = now() - interval '10 days' WHERE job_id = $1",
      [jobId],
    );
    expect(await expireOldFiles(env.database.db, env.store, 7)).toBe(3);
    expect(await env.contents.list(`jobs/${jobId}/`)).toEqual([]);
  });

  it("takes the job part as text or as application/json (what the API reference documents)", async () => {
    const asJson = { ...jobPart(), contentType: "application/json" };
    const res = await order([asJson, file("a.txt", "x")]);
    expect(res.status, res.text).toBe(201);
    expect(res.body.input_files).toHaveLength(1);
    const bad = await order([{ name: "job", value: "{nope", contentType: "application/json" }]);
    expectProblem(bad, "MALFORMED_JSON");
  });

  it("accepts a multipart order without files", async () => {
    const res = await order([jobPart()]);
    expect(res.status, res.text).toBe(201);
    expect(res.body.input_files).toEqual([]);
  });

  it.each([
    ["no job part", () => [file("a.txt", "x")], "MALFORMED_MULTIPART"],
    ["files before the job part", () => [file("a.txt", "x"), jobPart()], "MALFORMED_MULTIPART"],
    ["two job parts", () => [jobPart(), jobPart()], "MALFORMED_MULTIPART"],
    ["an unknown field", () => [jobPart(), { name: "note", value: "x" }], "MALFORMED_MULTIPART"],
    ["a job part that is not JSON", () => [{ name: "job", value: "{nope" }], "MALFORMED_JSON"],
    ["a job part with an unknown field", () => [jobPart({ extra: 1 })], "VALIDATION_FAILED"],
    [
      "params that fail the input schema",
      () => [jobPart({ params: {} }), file("a.txt", "x")],
      "PARAMS_INVALID",
    ],
    [
      "an unknown agent",
      () => [jobPart({ agent_id: "00000000-0000-4000-8000-000000000000" })],
      "AGENT_NOT_FOUND",
    ],
    [
      "a hostile file name",
      () => [jobPart(), file("ok.txt", "x"), file("../../etc/passwd", "x")],
      "FILE_NAME_INVALID",
    ],
    [
      "a duplicate path",
      () => [jobPart(), file("a.txt", "1"), file("a.txt", "2")],
      "FILE_PATH_DUPLICATE",
    ],
    [
      "a file over the limit",
      () => [jobPart(), file("ok.txt", "x"), file("big.bin", Buffer.alloc(2001))],
      "FILE_TOO_LARGE",
    ],
    [
      "too many files",
      () => [jobPart(), ...[1, 2, 3, 4, 5, 6].map((n) => file(`${n}.txt`, "x"))],
      "TOO_MANY_FILES",
    ],
    [
      "too many bytes",
      () => [jobPart(), ...[1, 2, 3].map((n) => file(`${n}.bin`, Buffer.alloc(1900)))],
      "UPLOAD_TOO_LARGE",
    ],
  ] as const)("refuses %s and stores nothing", async (_, parts, code) => {
    const before = await counts();
    expectProblem(await order([...parts()]), code);
    expect(await counts()).toEqual(before);
  });

  it("replays an idempotent order with the same files, and refuses other files under the same key", async () => {
    const key = { "idempotency-key": "order-with-files-1" };
    const first = await order([jobPart(), file("a.txt", "same")], key);
    expect(first.status, first.text).toBe(201);
    const before = await counts();
    const again = await order([jobPart(), file("a.txt", "same")], key);
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body.job_id).toBe(first.body.job_id);
    expect(await counts()).toEqual(before);
    expectProblem(
      await order([jobPart(), file("a.txt", "different")], key),
      "IDEMPOTENCY_KEY_REUSED",
    );
    expect(await counts()).toEqual(before);
  });
});
