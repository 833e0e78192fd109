import { describe, expect, it } from "vitest";
import { orderJob, useTestEnv } from "../test/harness.ts";
import { forgetExpiredIdempotencyKeys } from "./jobs/service.ts";

describe("maintenance", () => {
  const env = useTestEnv();

  it("forgets idempotency keys older than 24 hours and keeps the rest", async () => {
    await orderJob(env, {}, env.buyer.key);
    for (const key of ["old-key", "new-key"]) {
      const response = await env.call("POST", "/v1/jobs", {
        key: env.buyer.key,
        headers: { "idempotency-key": key },
        body: { agent_id: env.agentId, prompt: key, params: { language: "go" } },
      });
      expect(response.status).toBe(201);
    }
    await env.database.db.query(
      "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old-key'",
    );
    expect(await forgetExpiredIdempotencyKeys(env.database.db)).toBe(1);
    const { rows } = await env.database.db.query<{ key: string }>(
      "SELECT key FROM idempotency_keys",
    );
    expect(rows.map((r) => r.key)).toEqual(["new-key"]);
    // The jobs themselves stay.
    const jobs = await env.database.db.query("SELECT 1 FROM jobs WHERE prompt = 'old-key'");
    expect(jobs.rowCount).toBe(1);
  });
});
