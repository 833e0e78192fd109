import { describe, expect, it } from "vitest";
import { useCountedApp } from "../../test/counted-app.ts";
import { expectProblem } from "../../test/expect.ts";
import { useTestEnv } from "../../test/harness.ts";

const order = (agentId: string, params: Record<string, unknown>, extra = {}) => ({
  agent_id: agentId,
  prompt: "Port it",
  params,
  ...extra,
});

describe("orders and the agent they were checked against", () => {
  const env = useTestEnv();
  const place = (body: unknown) => env.call("POST", "/v1/jobs", { key: env.buyer.key, body });

  it("checks every order against the agent as it is now, though the API read it before", async () => {
    const agentId = await env.addAgent();
    expect((await place(order(agentId, { language: "go" }))).status).toBe(201);
    // Changed in SQL, behind the API's back: the version (xmin) it remembered is gone.
    await env.database.db.query(
      `UPDATE agents SET input_schema = '{"type":"object","required":["language"],
         "properties":{"language":{"enum":["rust"]}}}' WHERE agent_id = $1`,
      [agentId],
    );
    expectProblem(await place(order(agentId, { language: "go" })), "PARAMS_INVALID");
    expect((await place(order(agentId, { language: "rust" }))).status).toBe(201);

    await env.database.db.query("UPDATE agents SET max_timeout_seconds = 60 WHERE agent_id = $1", [
      agentId,
    ]);
    const tooLong = order(agentId, { language: "rust" }, { timeout_seconds: 61 });
    expectProblem(await place(tooLong), "TIMEOUT_NOT_ALLOWED");
    const { rows } = await env.database.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM jobs WHERE agent_id = $1",
      [agentId],
    );
    expect(rows[0]?.n).toBe(2);
  });

  it("answers AGENT_NOT_FOUND for an agent deleted after the API read it", async () => {
    const agentId = await env.addAgent();
    // Refused, but the agent was read.
    expectProblem(await place(order(agentId, { language: "cobol" })), "PARAMS_INVALID");
    await env.database.db.query("DELETE FROM agents WHERE agent_id = $1", [agentId]);
    expectProblem(await place(order(agentId, { language: "go" })), "AGENT_NOT_FOUND");
  });
});

describe("an order's statements", () => {
  const env = useCountedApp();

  it("are one INSERT once the agent and the key were read", async () => {
    const place = () =>
      env.app.inject({
        method: "POST",
        url: "/v1/jobs",
        headers: { authorization: `Bearer ${env.buyerKey}` },
        payload: order(env.agentId, { language: "go" }),
      });
    expect((await place()).statusCode).toBe(201);
    env.statements.length = 0;
    for (let n = 0; n < 3; n++) expect((await place()).statusCode).toBe(201);
    expect(env.statements).toHaveLength(3);
    expect(env.statements.every((sql) => sql.startsWith("INSERT INTO jobs"))).toBe(true);
  });
});
