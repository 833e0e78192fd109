import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sleep } from "./expect.ts";
import { orderJob, useTestEnv } from "./harness.ts";

// The executor renews every 100 ms: a lease ten times that survives a busy machine.
const LEASE = 1;
const SWEEP = 0.1;
/** Slack on "within lease + sweep" for a slow machine; without the sweeper nothing changes. */
const SLACK = 10;
const EXECUTOR = join(import.meta.dirname, "fixtures", "holding-executor.mjs");

describe("an executor killed with SIGKILL mid-job", () => {
  const env = useTestEnv({ leaseSeconds: LEASE, sweepIntervalMs: SWEEP * 1000 });

  it("never leaves its job stuck: 20 trials, each job re-queued or failed once its lease lapses", async () => {
    const url = await env.app.listen({ port: 0, host: "127.0.0.1" });
    const agentId = await env.addAgent();
    const outcomes: string[] = [];
    for (let trial = 0; trial < 20; trial++) {
      const { job_id: jobId } = await orderJob(env, { agent_id: agentId });
      const child = spawn(process.execPath, [EXECUTOR, url, env.provider.key, agentId], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes("\n")) resolve(out.trim());
        });
        child.once("exit", (code) => reject(new Error(`executor exited early with ${code}`)));
      });
      const [, heldJob, heldAttempt] = line.split(" ");
      expect(heldJob).toBe(jobId);
      // Let it renew its lease for longer than one lease: the job must survive that.
      await sleep(LEASE * 1000 + 200);
      const before = (await env.call("GET", `/v1/jobs/${jobId}`, { key: env.buyer.key })).body;
      expect(before.status).toBe("running");
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      const killedAt = Date.now();
      let job = before;
      while (
        job.status === "running" &&
        Date.now() - killedAt < (LEASE + SWEEP + SLACK) * 1000 + 500
      ) {
        await sleep(25);
        job = (await env.call("GET", `/v1/jobs/${jobId}`, { key: env.buyer.key })).body;
      }
      const elapsed = Date.now() - killedAt;
      expect(elapsed, `trial ${trial}`).toBeLessThanOrEqual((LEASE + SWEEP + SLACK) * 1000);
      expect(["pending", "failed"]).toContain(job.status);
      if (job.status === "pending") expect(job.attempt).toBe(Number(heldAttempt) + 1);
      else expect(job.failure_code).toBe("lease_lost");
      outcomes.push(`${job.status}@${elapsed}ms`);
      // Make room for the next trial: nobody else should pick this job up.
      await env.call("POST", `/v1/jobs/${jobId}/cancel`, { key: env.buyer.key });
    }
    expect(outcomes).toHaveLength(20);
  }, 180_000);
});
