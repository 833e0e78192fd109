import { describe, expect, it } from "vitest";
import { orderJob, setStatus, useTestEnv } from "./harness.ts";

describe("smoke", () => {
  const env = useTestEnv();
  it("runs a job from order to result", async () => {
    const job = await orderJob(env);
    expect(job.status).toBe("pending");
    const accepted = await setStatus(env, job.job_id, { status: "accepted" });
    expect(accepted.status).toBe(200);
    expect(
      (await setStatus(env, job.job_id, { status: "running", attempt: 1, progress: 10 })).status,
    ).toBe(200);
    const done = await env.call("POST", `/v1/executor/jobs/${job.job_id}/complete`, {
      key: env.provider.key,
      body: { attempt: 1 },
    });
    expect(done.status, done.text).toBe(200);
    const result = await env.call("GET", `/v1/jobs/${job.job_id}/result`, { key: env.buyer.key });
    expect(result.body).toEqual({ job_id: job.job_id, status: "completed", files: [] });
  });
});
