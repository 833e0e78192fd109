import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";
import { expectProblem } from "../../test/expect.ts";
import { agentInput, tempLocalStore, useTestEnv } from "../../test/harness.ts";
import { createKey } from "../accounts/service.ts";
import { upsertAgent } from "../agents/service.ts";
import { buildApp } from "../app.ts";
import type { Db } from "../db/types.ts";

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
  let database: TestDatabase;
  let app: FastifyInstance;
  const statements: string[] = [];
  let buyer: string;
  let agentId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const counted: Db = {
      ...database.db,
      query: (sql, params, options) => {
        statements.push(sql);
        return database.db.query(sql, params, options);
      },
    };
    app = await buildApp({
      db: counted,
      store: (await tempLocalStore()).store,
      logLevel: false,
      maintenanceIntervalMs: 0,
    });
    buyer = (await createKey(database.db, { role: "buyer", name: "Buyer" })).key;
    const provider = await createKey(database.db, { role: "provider", name: "Provider" });
    agentId = await upsertAgent(database.db, agentInput(provider.account_id));
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it("are one INSERT once the agent and the key were read", async () => {
    const place = () =>
      app.inject({
        method: "POST",
        url: "/v1/jobs",
        headers: { authorization: `Bearer ${buyer}` },
        payload: order(agentId, { language: "go" }),
      });
    expect((await place()).statusCode).toBe(201);
    statements.length = 0;
    for (let n = 0; n < 3; n++) expect((await place()).statusCode).toBe(201);
    expect(statements).toHaveLength(3);
    expect(statements.every((sql) => sql.trimStart().startsWith("INSERT INTO jobs"))).toBe(true);
  });
});
