import { beforeAll, describe, expect, it } from "vitest";
import { agentInput, type CallResult, useTestEnv } from "../../test/harness.ts";
import { type AgentInput, upsertAgent } from "./service.ts";

describe("GET /v1/agents/search", () => {
  const env = useTestEnv();
  /** Every agent in the database, by fixture name; the harness's own two included. */
  const ids: Record<string, string> = {};
  const allIds: string[] = [];
  const batchIds: string[] = [];

  const add = async (name: string, overrides: Partial<AgentInput>) => {
    const id = await env.addAgent({ name, ...overrides });
    ids[name] = id;
    allIds.push(id);
    return id;
  };

  beforeAll(async () => {
    allIds.push(env.agentId, env.otherAgentId);
    // Text search. Order of creation matters: the name match is the older of the two.
    await add("Quokka Linter", { description: "Checks code style.", tags: ["lint"] });
    await add("Style bot", { description: "A formatter that a quokka would love.", tags: ["fmt"] });
    await add("Cluster helper", { description: "Deploys services.", tags: ["kubernetes"] });
    await add("Gopher critic", { description: "Careful code review for Go.", tags: ["go"] });
    await add("TypeScript Fixer", { description: "Repairs compile errors.", tags: ["ts"] });
    // Tags.
    await add("Tag one", { description: "Handles widgets.", tags: ["alpha", "beta"] });
    await add("Tag two", { description: "Handles gadgets.", tags: ["alpha"] });
    await add("Tag three", { description: "Handles widgets.", tags: ["beta"] });
    // Literal % and _, and look-alikes that would match if they were wildcards.
    await add("Coverage maximizer", { description: "Aims for 100% coverage.", tags: ["qa"] });
    await add("Identifier renamer", { description: "Converts names to snake_case.", tags: ["rn"] });
    await add("Case converter", { description: "Turns snakeXcase into camelCase.", tags: ["rn"] });
    await add("Scoreboard", { description: "Tracks 1000 points.", tags: ["games"] });
    // Newest first: three agents dated in the future, one day apart.
    for (const [i, name] of ["Future one", "Future two", "Future three"].entries()) {
      const id = await add(name, { description: "Arrives later.", tags: ["future"] });
      await env.database.db.query(
        `UPDATE agents SET created_at = now() + make_interval(days => $2) WHERE agent_id = $1`,
        [id, i + 1],
      );
    }
    // 25 agents in one transaction: they share created_at, only agent_id orders them.
    await env.database.db.transaction(async (tx) => {
      for (let i = 0; i < 25; i += 1) {
        const input = agentInput(env.provider.accountId, {
          name: `Batch agent ${i}`,
          description: "Part of the orbital batch.",
          tags: ["batch"],
        });
        batchIds.push(await upsertAgent(tx, input));
      }
    });
    allIds.push(...batchIds);
  });

  const search = (query: string) =>
    env.call("GET", `/v1/agents/search${query ? `?${query}` : ""}`, { key: env.buyer.key });

  const names = (response: CallResult): string[] =>
    response.body.agents.map((agent: { name: string }) => agent.name);

  /** Every agent of a query, page by page. */
  const pageThrough = async (query: string, limit: number) => {
    const seen: string[] = [];
    for (let offset = 0; offset < 200; offset += limit) {
      const sep = query ? "&" : "";
      const page = await search(`${query}${sep}limit=${limit}&offset=${offset}`);
      expect(page.status, page.text).toBe(200);
      expect(page.body.agents.length).toBeLessThanOrEqual(limit);
      if (page.body.agents.length === 0) return { seen, total: page.body.total as number };
      seen.push(...page.body.agents.map((agent: { agent_id: string }) => agent.agent_id));
    }
    throw new Error("paging did not end");
  };

  describe("full text", () => {
    it("matches the name and the description, the name match ranking first", async () => {
      const response = await search("q=quokka");
      expect(response.status, response.text).toBe(200);
      expect(names(response)).toEqual(["Quokka Linter", "Style bot"]);
      expect(response.body.total).toBe(2);
    });

    it("counts every match in total regardless of limit and offset", async () => {
      const first = await search("q=quokka&limit=1");
      expect(names(first)).toEqual(["Quokka Linter"]);
      expect(first.body.total).toBe(2);
      const second = await search("q=quokka&limit=1&offset=1");
      expect(names(second)).toEqual(["Style bot"]);
      expect(second.body.total).toBe(2);
    });

    it("matches tags", async () => {
      const response = await search("q=kubernetes");
      expect(names(response)).toEqual(["Cluster helper"]);
      expect(response.body.total).toBe(1);
    });

    it("matches stems: reviewing finds review", async () => {
      const response = await search("q=reviewing");
      expect(names(response)).toEqual(["Gopher critic"]);
      expect(response.body.total).toBe(1);
    });

    it("matches a partial word, case-insensitively", async () => {
      for (const q of ["typescr", "TypeScr", "ypeScrip"]) {
        const response = await search(`q=${q}`);
        expect(names(response), q).toEqual(["TypeScript Fixer"]);
        expect(response.body.total).toBe(1);
      }
    });

    it("trims q and survives query syntax and LIKE escapes", async () => {
      expect(names(await search("q=%20%20quokka%20%20"))).toEqual(["Quokka Linter", "Style bot"]);
      for (const q of ['"', "-", "\\", "'", ":*", "!&|()", "or"]) {
        const response = await search(`q=${encodeURIComponent(q)}&limit=100`);
        expect(response.status, `${q}: ${response.text}`).toBe(200);
        expect(response.body.total, q).toBe(response.body.agents.length);
      }
    });

    it("finds nothing for text no agent contains", async () => {
      const response = await search("q=xylophone");
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ agents: [], total: 0 });
    });
  });

  describe("tags", () => {
    it("filters by a single tag", async () => {
      const response = await search("tag=alpha");
      expect(names(response).sort()).toEqual(["Tag one", "Tag two"]);
      expect(response.body.total).toBe(2);
      const harness = await search("tag=test");
      expect(harness.body.agents.map((a: { agent_id: string }) => a.agent_id).sort()).toEqual(
        [env.agentId, env.otherAgentId].sort(),
      );
      expect(harness.body.total).toBe(2);
    });

    it("requires every repeated tag (AND), whatever their order", async () => {
      for (const query of ["tag=alpha&tag=beta", "tag=beta&tag=alpha"]) {
        const response = await search(query);
        expect(response.status, response.text).toBe(200);
        expect(names(response), query).toEqual(["Tag one"]);
        expect(response.body.total).toBe(1);
      }
      expect(names(await search("tag=alpha&tag=alpha")).sort()).toEqual(["Tag one", "Tag two"]);
      const none = await search("tag=alpha&tag=kubernetes");
      expect(none.body).toEqual({ agents: [], total: 0 });
    });

    it("combines tags with q", async () => {
      expect(names(await search("q=widgets&tag=alpha"))).toEqual(["Tag one"]);
      expect(names(await search("q=gadgets&tag=alpha"))).toEqual(["Tag two"]);
      expect(names(await search("q=widgets&tag=beta")).sort()).toEqual(["Tag one", "Tag three"]);
      const both = await search("q=gadgets&tag=alpha&tag=beta");
      expect(both.body).toEqual({ agents: [], total: 0 });
      const widgets = await search("q=widgets");
      expect(widgets.body.total).toBe(2);
    });
  });

  describe("% and _ are literal", () => {
    it("q=% matches only agents containing %", async () => {
      const response = await search("q=%25");
      expect(response.status, response.text).toBe(200);
      expect(names(response)).toEqual(["Coverage maximizer"]);
      expect(response.body.total).toBe(1);
    });

    it("q=_ matches only agents containing _", async () => {
      const response = await search("q=_");
      expect(response.status, response.text).toBe(200);
      expect(names(response)).toEqual(["Identifier renamer"]);
      expect(response.body.total).toBe(1);
    });

    it("they are not wildcards inside longer text", async () => {
      expect(names(await search("q=100%25"))).toEqual(["Coverage maximizer"]);
      expect(names(await search("q=snake_case"))).toEqual(["Identifier renamer"]);
      // "10%" would match "100% coverage" if % were a wildcard.
      expect((await search("q=10%25&tag=qa")).body).toEqual({ agents: [], total: 0 });
      expect((await search("q=1%25&tag=qa")).body).toEqual({ agents: [], total: 0 });
      expect((await search("q=e_c")).body.total).toBe(1);
    });
  });

  describe("order and paging", () => {
    it("without q (or with blank q) lists every agent, newest first", async () => {
      for (const query of ["", "q=", "q=%20%20"]) {
        const response = await search(query ? `${query}&limit=3` : "limit=3");
        expect(response.status, response.text).toBe(200);
        expect(names(response), query).toEqual(["Future three", "Future two", "Future one"]);
        expect(response.body.total).toBe(allIds.length);
      }
      const response = await search("limit=100");
      const created: string[] = response.body.agents.map(
        (a: { created_at: string }) => a.created_at,
      );
      expect(created).toEqual([...created].sort().reverse());
    });

    it("batch agents share one created_at", async () => {
      const { rows } = await env.database.db.query<{ n: number }>(
        "SELECT count(DISTINCT created_at)::int AS n FROM agents WHERE agent_id = ANY($1::uuid[])",
        [batchIds],
      );
      expect(rows[0]?.n).toBe(1);
    });

    it("pages through the whole catalogue with every agent exactly once", async () => {
      const { seen, total } = await pageThrough("", 7);
      expect(total).toBe(allIds.length);
      expect(seen).toHaveLength(allIds.length);
      expect([...seen].sort()).toEqual([...allIds].sort());
    });

    it("pages through tied agents (same rank, same created_at) exactly once", async () => {
      for (const query of ["q=orbital", "tag=batch"]) {
        const { seen, total } = await pageThrough(query, 7);
        expect(total, query).toBe(25);
        expect(seen).toHaveLength(25);
        expect([...seen].sort()).toEqual([...batchIds].sort());
      }
    });

    it("repeating a page gives the same order", async () => {
      for (const query of ["q=orbital&limit=7&offset=7", "limit=7&offset=14"]) {
        const first = await search(query);
        for (let i = 0; i < 3; i += 1) {
          expect((await search(query)).body.agents, query).toEqual(first.body.agents);
        }
      }
    });

    it("an offset past the end gives no agents and the right total", async () => {
      const response = await search("offset=1000");
      expect(response.status, response.text).toBe(200);
      expect(response.body).toEqual({ agents: [], total: allIds.length });
      const tagged = await search("tag=batch&offset=25");
      expect(tagged.body).toEqual({ agents: [], total: 25 });
    });

    it("accepts the limit bounds 1 and 100", async () => {
      expect((await search("limit=1")).body.agents).toHaveLength(1);
      const hundred = await search("limit=100");
      expect(hundred.status).toBe(200);
      expect(hundred.body.agents).toHaveLength(Math.min(100, allIds.length));
    });
  });

  describe("validation", () => {
    const expectInvalid = (response: CallResult, field: string | RegExp) => {
      expect(response.status, response.text).toBe(400);
      expect(response.body.code).toBe("VALIDATION_FAILED");
      expect(String(response.headers["content-type"])).toMatch(/^application\/problem\+json/);
      expect(response.body.errors[0].in).toBe("query");
      expect(response.body.errors[0].field).toMatch(field);
    };

    it.each([
      "limit=0",
      "limit=101",
      "limit=-1",
      "limit=1.5",
      "limit=abc",
      "limit=",
      "limit=5&limit=6",
    ])("refuses %s", async (query) => {
      expectInvalid(await search(query), /^limit$/);
    });

    it("refuses a negative offset", async () => {
      expectInvalid(await search("offset=-1"), /^offset$/);
    });

    it("refuses an unknown query parameter", async () => {
      expectInvalid(await search("sort=name"), /^sort$/);
    });

    it("refuses q longer than 200 characters and accepts 200", async () => {
      expectInvalid(await search(`q=${"a".repeat(201)}`), /^q$/);
      const ok = await search(`q=${"a".repeat(200)}`);
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body).toEqual({ agents: [], total: 0 });
    });

    it("refuses a malformed tag", async () => {
      expectInvalid(await search("tag=Has%20Space"), /^tag/);
      expectInvalid(await search("tag=alpha&tag=UPPER"), /^tag/);
    });

    it("needs a buyer key", async () => {
      const anonymous = await env.call("GET", "/v1/agents/search");
      expect(anonymous.status).toBe(401);
      const provider = await env.call("GET", "/v1/agents/search", { key: env.provider.key });
      expect(provider.status).toBe(403);
      expect(provider.body.code).toBe("FORBIDDEN");
    });
  });
});

describe("GET /v1/agents/{agent_id}", () => {
  const env = useTestEnv();

  it("returns every field of the agent card", async () => {
    const agentId = await env.addAgent({
      slug: "card-agent",
      name: "Card agent",
      description: "Shows every field.",
      tags: ["card", "json"],
      pricing: { model: "per_job", amount_cents: 250, currency: "EUR" },
      inputSchema: { type: "object", properties: { n: { type: "integer" } } },
      outputSchema: { type: "object", required: ["ok"] },
    });
    const response = await env.call("GET", `/v1/agents/${agentId}`, { key: env.buyer.key });
    expect(response.status, response.text).toBe(200);
    const { created_at, updated_at, ...rest } = response.body;
    expect(rest).toEqual({
      agent_id: agentId,
      slug: "card-agent",
      name: "Card agent",
      description: "Shows every field.",
      tags: ["card", "json"],
      pricing: { model: "per_job", amount_cents: 250, currency: "EUR" },
      input_schema: { type: "object", properties: { n: { type: "integer" } } },
      output_schema: { type: "object", required: ["ok"] },
      provider_name: "Provider One",
      default_timeout_seconds: null,
      max_timeout_seconds: null,
      executors_online: 0,
    });
    expect(Number.isInteger(response.body.pricing.amount_cents)).toBe(true);
    const { rows } = await env.database.db.query<{ created_at: Date; updated_at: Date }>(
      "SELECT created_at, updated_at FROM agents WHERE agent_id = $1",
      [agentId],
    );
    for (const value of [created_at, updated_at]) {
      expect(value).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    }
    expect(created_at).toBe(rows[0]?.created_at.toISOString());
    expect(updated_at).toBe(rows[0]?.updated_at.toISOString());
  });

  it("names the provider that owns the agent", async () => {
    const response = await env.call("GET", `/v1/agents/${env.otherAgentId}`, {
      key: env.buyer.key,
    });
    expect(response.status).toBe(200);
    expect(response.body.provider_name).toBe("Provider Two");
    expect(response.body.tags).toEqual(["test"]);
  });

  it("answers 404 AGENT_NOT_FOUND for an unknown id", async () => {
    const response = await env.call("GET", "/v1/agents/00000000-0000-4000-8000-000000000000", {
      key: env.buyer.key,
    });
    expect(response.status, response.text).toBe(404);
    expect(response.body.code).toBe("AGENT_NOT_FOUND");
    expect(String(response.headers["content-type"])).toMatch(/^application\/problem\+json/);
  });

  it("answers 400 VALIDATION_FAILED for an id that is not a UUID", async () => {
    const response = await env.call("GET", "/v1/agents/not-a-uuid", { key: env.buyer.key });
    expect(response.status, response.text).toBe(400);
    expect(response.body.code).toBe("VALIDATION_FAILED");
    expect(response.body.errors[0]).toMatchObject({ in: "path", field: "agent_id" });
  });
});
