import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestEnv } from "./harness.ts";

/**
 * Clients written to the original specification know its calls and fields — status,
 * progress, reason, result files — but not our additions (`attempt`). They must be able to
 * finish a job: over HTTP, with Node's fetch and FormData and with curl, as they are written.
 */

const env = useTestEnv();
let url: string;
const dir = mkdtempSync(join(tmpdir(), "agnt-spec-client-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  url = await env.app.listen({ port: 0, host: "127.0.0.1" });
});

// biome-ignore lint/suspicious/noExplicitAny: the test reads whatever JSON the API sent.
async function call(method: string, path: string, key: string, body?: unknown): Promise<any> {
  const response = await fetch(url + path, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined && !(body instanceof FormData)
        ? { "content-type": "application/json" }
        : {}),
    },
    ...(body === undefined ? {} : { body: body instanceof FormData ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, text };
}

const executor = (method: string, path: string, body?: unknown) =>
  call(method, `/v1/executor/jobs${path}`, env.provider.key, body);

/** Orders a job the way a FormData client does: the job part is a Blob of type application/json. */
async function orderWithBlob() {
  const form = new FormData();
  const job = {
    agent_id: env.agentId,
    prompt: "Fix the parser",
    params: { language: "typescript" },
  };
  form.append("job", new Blob([JSON.stringify(job)], { type: "application/json" }));
  form.append("files", new Blob(["export const x = 1;\n"]), "src/index.ts");
  const created = await call("POST", "/v1/jobs", env.buyer.key, form);
  expect(created.status, created.text).toBe(201);
  return created.body;
}

/** Takes the oldest pending job of the agent, the way the specification's executors poll. */
async function takePendingJob(jobId: string) {
  const listed = await executor("GET", `?agent_id=${env.agentId}&status=pending&wait=5&limit=100`);
  expect(listed.status, listed.text).toBe(200);
  expect(listed.body.jobs.map((job: { job_id: string }) => job.job_id)).toContain(jobId);
  const accepted = await executor("POST", `/${jobId}/status`, { status: "accepted" });
  expect(accepted.status, accepted.text).toBe(200);
  const running = await executor("POST", `/${jobId}/status`, { status: "running" });
  expect(running.status, running.text).toBe(200);
  expect(running.body).toMatchObject({ status: "running", attempt: 1 });
}

describe("a client written to the original specification", () => {
  it("orders with files (FormData), runs, reports progress and completes with files only", async () => {
    const job = await orderWithBlob();
    expect(job.input_files).toEqual([
      expect.objectContaining({ path: "src/index.ts", mime_type: "text/x-typescript" }),
    ]);
    await takePendingJob(job.job_id);
    const progress = await executor("POST", `/${job.job_id}/status`, {
      status: "running",
      progress: 40,
      message: "reading the code",
    });
    expect(progress.status, progress.text).toBe(200);
    expect(progress.body).toMatchObject({ progress: 40, progress_message: "reading the code" });

    const form = new FormData();
    form.append("files", new Blob(["# Fixed\n"]), "summary.md");
    form.append("files", new Blob(["--- a/x\n+++ b/x\n"]), "changes.patch");
    const completed = await executor("POST", `/${job.job_id}/complete`, form);
    expect(completed.status, completed.text).toBe(200);
    expect(completed.body).toMatchObject({ status: "completed", progress: 100 });

    const result = await call("GET", `/v1/jobs/${job.job_id}/result`, env.buyer.key);
    expect(result.status, result.text).toBe(200);
    expect(
      result.body.files.map((file: { path: string; mime_type: string }) => [
        file.path,
        file.mime_type,
      ]),
    ).toEqual([
      ["changes.patch", "text/x-diff"],
      ["summary.md", "text/markdown"],
    ]);
  });

  it("fails a job with a reason, and rejects one with a reason", async () => {
    const failing = await orderWithBlob();
    await takePendingJob(failing.job_id);
    const failed = await executor("POST", `/${failing.job_id}/status`, {
      status: "failed",
      reason: "The build does not compile.",
    });
    expect(failed.status, failed.text).toBe(200);
    expect(failed.body).toMatchObject({
      status: "failed",
      failure_code: "executor_error",
      decision_reason: "The build does not compile.",
    });

    const rejecting = await orderWithBlob();
    const rejected = await executor("POST", `/${rejecting.job_id}/status`, {
      status: "rejected",
      reason: "Out of scope.",
    });
    expect(rejected.status, rejected.text).toBe(200);
    expect(rejected.body).toMatchObject({ status: "rejected", decision_reason: "Out of scope." });
  });

  it("orders and completes with curl -F, the job part read from a file", async () => {
    const jobFile = join(dir, "job.json");
    writeFileSync(
      jobFile,
      JSON.stringify({ agent_id: env.agentId, prompt: "Port it", params: { language: "go" } }),
    );
    const sourceFile = join(dir, "main.go");
    writeFileSync(sourceFile, "package main\n");
    const curl = (args: string[]) =>
      new Promise<{ status: number; body: { job_id: string; status: string } }>((resolve, reject) =>
        execFile("curl", ["-sS", "-w", "\n%{http_code}", ...args], (error, stdout) => {
          if (error) return reject(error);
          const lines = stdout.trimEnd().split("\n");
          const status = Number(lines.pop());
          resolve({ status, body: JSON.parse(lines.join("\n")) });
        }),
      );
    const created = await curl([
      "-H",
      `Authorization: Bearer ${env.buyer.key}`,
      "-F",
      `job=@${jobFile};type=application/json`,
      "-F",
      `files=@${sourceFile};filename=cmd/main.go`,
      `${url}/v1/jobs`,
    ]);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await takePendingJob(created.body.job_id);
    const summary = join(dir, "summary.md");
    writeFileSync(summary, "# Ported\n");
    const completed = await curl([
      "-H",
      `Authorization: Bearer ${env.provider.key}`,
      "-F",
      `files=@${summary}`,
      `${url}/v1/executor/jobs/${created.body.job_id}/complete`,
    ]);
    expect(completed.status, JSON.stringify(completed.body)).toBe(200);
    expect(completed.body.status).toBe("completed");
  });
});
