import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";
import { ParamsValidator } from "../jobs/params.ts";
import { CATALOGUE, DEMO_PROVIDER } from "./catalogue.ts";
import { seed } from "./seed.ts";

describe("seed", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it("writes the demo catalogue owned by the demo provider, and is idempotent", async () => {
    const first = await seed(database.db);
    const before = await database.db.query<{ slug: string; updated_at: Date }>(
      "SELECT slug, updated_at FROM agents ORDER BY slug",
    );
    const second = await seed(database.db);
    const after = await database.db.query<{ slug: string; updated_at: Date }>(
      "SELECT slug, updated_at FROM agents ORDER BY slug",
    );
    expect(second.agentIds).toEqual(first.agentIds);
    expect(first.agentIds.length).toBeGreaterThanOrEqual(8);
    expect(after.rows).toEqual(before.rows);
    const owners = await database.db.query<{ owner_account_id: string; role: string }>(
      "SELECT DISTINCT a.owner_account_id, p.role FROM agents a JOIN accounts p ON p.account_id = a.owner_account_id",
    );
    expect(owners.rows).toEqual([{ owner_account_id: DEMO_PROVIDER.accountId, role: "provider" }]);
  });

  it("gives every agent a realistic card with required, typed input fields", () => {
    const validator = new ParamsValidator();
    expect(new Set(CATALOGUE.map((a) => a.slug)).size).toBe(CATALOGUE.length);
    for (const agent of CATALOGUE) {
      expect(agent.description.length, agent.slug).toBeGreaterThan(100);
      expect(agent.tags.length, agent.slug).toBeGreaterThanOrEqual(3);
      const schema = agent.inputSchema as {
        required: string[];
        properties: Record<string, { type?: string }>;
      };
      expect(schema.required.length, agent.slug).toBeGreaterThan(0);
      for (const field of schema.required)
        expect(schema.properties[field]?.type, `${agent.slug}.${field}`).toBeTypeOf("string");
      const validate = validator.compile(agent.inputSchema);
      expect(validate({}), agent.slug).toBe(false);
      expect(Object.keys(agent.outputSchema)).toContain("properties");
    }
  });
});
