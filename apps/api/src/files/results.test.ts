import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { expectProblem, sleep } from "../../test/expect.ts";
import {
  type CallResult,
  orderJob,
  setStatus,
  tempLocalStore,
  useTestEnv,
} from "../../test/harness.ts";
import { HOSTILE_NAMES } from "../../test/hostile-names.ts";
import { multipart, type Part } from "../../test/multipart.ts";
import { expireOldFiles } from "./service.ts";

const LIMITS = { maxFileBytes: 1000, maxFiles: 4, maxTotalBytes: 2500 };
let root = "";
const env = useTestEnv({
  uploads: LIMITS,
  store: async () => {
    const store = await tempLocalStore();
    root = store.root;
    return store;
  },
});

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

async function runningJob(): Promise<string> {
  const jobId: string = (await orderJob(env)).job_id;
  expect((await setStatus(env, jobId, { status: "accepted" })).status).toBe(200);
  expect((await setStatus(env, jobId, { status: "running", attempt: 1 })).status).toBe(200);
  return jobId;
}

function complete(jobId: string, parts: Part[], query = ""): Promise<CallResult> {
  const form = multipart(parts);
  return env.call("POST", `/v1/executor/jobs/${jobId}/complete${query}`, {
    key: env.provider.key,
    body: form.body,
    headers: form.headers,
  });
}

const attempt: Part = { name: "attempt", value: "1" };
const file = (filename: string, value: string | Buffer): Part => ({
  name: "files",
  filename,
  value,
});

/** Keys stored for a job, and files written anywhere under the store's folder. */
async function storedFor(jobId: string): Promise<string[]> {
  return env.contents.list(`jobs/${jobId}/`);
}

function filesOnDisk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => `${entry.parentPath}/${entry.name}`);
}

async function statusOf(jobId: string): Promise<string> {
  return (await env.call("GET", `/v1/jobs/${jobId}`, { key: env.buyer.key })).body.status;
}

describe("completing with result files", () => {
  it("keeps relative paths, measures size and sha256, and serves each file back", async () => {
    const jobId = await runningJob();
    const files = {
      "summary.md": "# Done\n",
      "out/report.md": "## Findings\n- none\n",
      "out/data/result.json": JSON.stringify({ ok: true }),
      "out/empty.bin": Buffer.alloc(0),
    };
    const res = await complete(jobId, [
      attempt,
      ...Object.entries(files).map(([n, v]) => file(n, v)),
    ]);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: "completed", progress: 100 });

    const keys = await storedFor(jobId);
    expect(keys.map((key) => key.replace(/^jobs\/[^/]+\/results\/[0-9a-f-]{36}\//, ""))).toEqual(
      Object.keys(files).sort(),
    );
    expect(keys.every((key) => key.startsWith(`jobs/${jobId}/results/`))).toBe(true);
    const result = await env.call("GET", `/v1/jobs/${jobId}/result`, { key: env.buyer.key });
    expect(result.status).toBe(200);
    expect(result.body.files.map((f: { path: string }) => f.path)).toEqual(
      Object.keys(files).sort(),
    );
    for (const entry of result.body.files) {
      const content = files[entry.path as keyof typeof files];
      expect(entry).toMatchObject({
        size_bytes: Buffer.byteLength(content),
        sha256: sha256(content),
        expired_at: null,
      });
      expect(Date.parse(entry.expires_at) - Date.now()).toBeGreaterThan(250_000);
      const download = await env.call("GET", entry.download_url);
      expect(download.status, download.text).toBe(200);
      expect(sha256(download.raw)).toBe(entry.sha256);
      expect(download.headers["content-disposition"]).toMatch(/^attachment; /);
      expect(download.headers["content-type"]).toBe(entry.mime_type);
    }
    const types = Object.fromEntries(
      result.body.files.map((f: { path: string; mime_type: string }) => [f.path, f.mime_type]),
    );
    expect(types["out/data/result.json"]).toBe("application/json");
    expect(types["summary.md"]).toBe("text/markdown");
    expect(types["out/empty.bin"]).toBe("application/octet-stream");

    // Every call mints fresh URLs.
    const again = await env.call("GET", `/v1/jobs/${jobId}/result`, { key: env.buyer.key });
    expect(again.body.files[0].download_url).not.toBe(result.body.files[0].download_url);
  });

  it("completes with ?attempt= and an agreeing field, and refuses a disagreeing one", async () => {
    const jobId = await runningJob();
    const bad = await complete(
      jobId,
      [{ name: "attempt", value: "2" }, file("a.txt", "x")],
      "?attempt=1",
    );
    expectProblem(bad, "VALIDATION_FAILED");
    expect(await storedFor(jobId)).toEqual([]);
    const ok = await complete(jobId, [attempt, file("a.txt", "x")], "?attempt=1");
    expect(ok.status, ok.text).toBe(200);
  });
});

describe("hostile names", () => {
  const sendable = HOSTILE_NAMES.filter(({ name }) => name.isWellFormed());

  it(`refuses each of ${sendable.length} hostile names with 422 and writes nothing anywhere`, async () => {
    const jobId = await runningJob();
    const base = dirname(root);
    const before = filesOnDisk(base);
    const accepted: string[] = [];
    for (const { name, why } of sendable) {
      const res = await complete(jobId, [attempt, file("ok.txt", "fine"), file(name, "evil")]);
      if (res.status !== 422 || res.body?.code !== "FILE_NAME_INVALID")
        accepted.push(`${why}: ${res.status}`);
    }
    expect(accepted).toEqual([]);
    expect(await storedFor(jobId)).toEqual([]);
    expect(filesOnDisk(base)).toEqual(before);
    expect(await statusOf(jobId)).toBe("running");
  });

  it("refuses two files with one path", async () => {
    const jobId = await runningJob();
    const res = await complete(jobId, [attempt, file("a/b.txt", "1"), file("a/b.txt", "2")]);
    expectProblem(res, "FILE_PATH_DUPLICATE");
    expect(await storedFor(jobId)).toEqual([]);
  });
});

describe("limits", () => {
  it.each([
    ["a file over the per-file limit", [file("big.bin", Buffer.alloc(1001))], "FILE_TOO_LARGE"],
    [
      "more files than allowed",
      ["1", "2", "3", "4"].map((n) => file(`${n}.txt`, n)),
      "TOO_MANY_FILES",
    ],
    [
      "more bytes than the per-job limit",
      ["1", "2", "3"].map((n) => file(`${n}.bin`, Buffer.alloc(900))),
      "UPLOAD_TOO_LARGE",
    ],
  ] as const)(
    "%s → 413, nothing stored, the job unchanged and retryable",
    async (_, files, code) => {
      const jobId = await runningJob();
      const res = await complete(jobId, [attempt, file("first.txt", "kept?"), ...files]);
      expectProblem(res, code);
      expect(await storedFor(jobId)).toEqual([]);
      expect(await statusOf(jobId)).toBe("running");
      const retry = await complete(jobId, [attempt, file("exact.bin", Buffer.alloc(1000))]);
      expect(retry.status, retry.text).toBe(200);
      expect(await storedFor(jobId)).toHaveLength(1);
    },
  );
});

/** Sends raw bytes over a real socket and resolves with the response's status line, if any. */
async function rawRequest(
  port: number,
  head: string,
  body: Buffer | undefined,
  wait = 2000,
): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  let received = "";
  socket.on("data", (chunk) => {
    received += chunk.toString("latin1");
  });
  socket.on("error", () => undefined);
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(head);
  if (body) socket.write(body);
  const deadline = Date.now() + wait;
  while (!received.includes("\r\n") && Date.now() < deadline) await sleep(20);
  socket.destroy();
  return received.split("\r\n")[0] ?? "";
}

describe("checks before the body", () => {
  it("refuses a stale attempt, a canceled job, another provider and a missing key without reading the body", async () => {
    const address = await env.app.listen({ port: 0, host: "127.0.0.1" });
    const port = Number(new URL(address).port);
    const jobId = await runningJob();
    const canceled = await runningJob();
    await env.call("POST", `/v1/jobs/${canceled}/cancel`, { key: env.buyer.key });
    // Promise a 100 MB body and send none of it: the answer must come anyway.
    const head = (path: string, key: string | undefined) =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\n${key ? `Authorization: Bearer ${key}\r\n` : ""}Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000000\r\n\r\n`;
    const path = (id: string, q = "?attempt=1") => `/v1/executor/jobs/${id}/complete${q}`;
    expect(
      await rawRequest(port, head(path(jobId, "?attempt=2"), env.provider.key), undefined),
    ).toMatch(/ 409 /);
    expect(await rawRequest(port, head(path(canceled), env.provider.key), undefined)).toMatch(
      / 409 /,
    );
    expect(await rawRequest(port, head(path(jobId), env.provider2.key), undefined)).toMatch(
      / 404 /,
    );
    expect(await rawRequest(port, head(path(jobId), undefined), undefined)).toMatch(/ 401 /);
    expect(await statusOf(jobId)).toBe("running");
  });

  it("leaves nothing behind when the client disconnects mid-upload, and a retry succeeds", async () => {
    const address = env.app.server.listening
      ? `http://127.0.0.1:${(env.app.server.address() as { port: number }).port}`
      : await env.app.listen({ port: 0, host: "127.0.0.1" });
    const port = Number(new URL(address).port);
    const jobId = await runningJob();
    const form = multipart([attempt, file("one.txt", "1"), file("two.bin", Buffer.alloc(900, 7))]);
    const cut = form.body.subarray(0, form.body.length - 400);
    const status = await rawRequest(
      port,
      `POST /v1/executor/jobs/${jobId}/complete HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${env.provider.key}\r\nContent-Type: ${form.headers["content-type"]}\r\nContent-Length: ${form.body.length}\r\n\r\n`,
      cut,
      300,
    );
    expect(status).toBe("");
    // The server notices the disconnect and removes the file it had stored.
    for (let i = 0; i < 100 && (await storedFor(jobId)).length > 0; i++) await sleep(20);
    expect(await storedFor(jobId)).toEqual([]);
    expect(readdirSync(`${root}/.tmp`)).toEqual([]);
    expect(await statusOf(jobId)).toBe("running");
    const retry = await complete(jobId, [attempt, file("one.txt", "1")]);
    expect(retry.status, retry.text).toBe(200);
  });
});

describe("a job canceled while its results upload", () => {
  it("answers 409 JOB_CANCELED to the completion and keeps none of its files", async () => {
    const address = env.app.server.listening
      ? `http://127.0.0.1:${(env.app.server.address() as { port: number }).port}`
      : await env.app.listen({ port: 0, host: "127.0.0.1" });
    const jobId = await runningJob();
    const form = multipart([
      attempt,
      file("a.txt", "first file"),
      file("b.bin", Buffer.alloc(900, 1)),
    ]);
    const half = form.body.length - 500;
    const socket = connect(Number(new URL(address).port), "127.0.0.1");
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString();
    });
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(
      `POST /v1/executor/jobs/${jobId}/complete HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${env.provider.key}\r\nContent-Type: ${form.headers["content-type"]}\r\nContent-Length: ${form.body.length}\r\n\r\n`,
    );
    socket.write(form.body.subarray(0, half));
    // The first file is stored by now; the buyer cancels before the upload ends.
    for (let i = 0; i < 50 && (await storedFor(jobId)).length === 0; i++) await sleep(20);
    expect(
      (await env.call("POST", `/v1/jobs/${jobId}/cancel`, { key: env.buyer.key })).status,
    ).toBe(200);
    socket.write(form.body.subarray(half));
    for (let i = 0; i < 100 && !received.includes("\r\n\r\n{"); i++) await sleep(20);
    socket.destroy();
    expect(received.split("\r\n")[0]).toMatch(/ 409 /);
    expect(received).toContain('"code":"JOB_CANCELED"');
    expect(await storedFor(jobId)).toEqual([]);
    expect(await statusOf(jobId)).toBe("canceled");
  });
});

describe("download URLs", () => {
  it("refuses tampered tokens (403) and files deleted by retention (404); retention marks them expired", async () => {
    const jobId = await runningJob();
    expect((await complete(jobId, [attempt, file("r.txt", "result")])).status).toBe(200);
    const url: string = (await env.call("GET", `/v1/jobs/${jobId}/result`, { key: env.buyer.key }))
      .body.files[0].download_url;
    const token = url.split("/").pop() as string;
    const [payload, signature] = token.split(".") as [string, string];
    const flipped = `${payload}.${signature[0] === "A" ? "B" : "A"}${signature.slice(1)}`;
    expectProblem(await env.call("GET", `/v1/files/${flipped}`), "DOWNLOAD_URL_INVALID");
    expectProblem(
      await env.call("GET", `/v1/files/${payload}x.${signature}`),
      "DOWNLOAD_URL_INVALID",
    );
    expectProblem(
      await env.call("GET", "/v1/files/not-a-token-at-all-really"),
      "DOWNLOAD_URL_INVALID",
    );

    await env.database.db.query(
      "UPDATE job_results SET created_at = now() - interval '3 days' WHERE job_id = $1",
      [jobId],
    );
    expect(await expireOldFiles(env.database.db, env.store, 2)).toBe(1);
    expect(await storedFor(jobId)).toEqual([]);
    const result = await env.call("GET", `/v1/jobs/${jobId}/result`, { key: env.buyer.key });
    expect(result.body.files[0]).toMatchObject({
      path: "r.txt",
      download_url: null,
      expires_at: null,
    });
    expect(Date.parse(result.body.files[0].expired_at)).toBeGreaterThan(Date.now() - 60_000);
    expectProblem(await env.call("GET", url), "FILE_NOT_FOUND");
    expect(await expireOldFiles(env.database.db, env.store, 2)).toBe(0);
  });
});

describe("expired download URLs", () => {
  const short = useTestEnv({ downloadUrlTtlSeconds: 1 });
  it("answer 410 once their lifetime has passed", async () => {
    const jobId: string = (await orderJob(short)).job_id;
    await setStatus(short, jobId, { status: "accepted" });
    await setStatus(short, jobId, { status: "running", attempt: 1 });
    const form = multipart([attempt, file("r.txt", "result")]);
    const done = await short.call("POST", `/v1/executor/jobs/${jobId}/complete`, {
      key: short.provider.key,
      body: form.body,
      headers: form.headers,
    });
    expect(done.status).toBe(200);
    const url = (await short.call("GET", `/v1/jobs/${jobId}/result`, { key: short.buyer.key })).body
      .files[0].download_url;
    expect((await short.call("GET", url)).status).toBe(200);
    await sleep(2100);
    expectProblem(await short.call("GET", url), "DOWNLOAD_URL_EXPIRED");
  });
});
