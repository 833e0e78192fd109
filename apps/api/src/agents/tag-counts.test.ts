import { beforeAll, describe, expect, it } from "vitest";
import { useCountedApp } from "../../test/counted-app.ts";
import { NARROW_TAGGED } from "./statements.ts";

/**
 * A text with tags few agents have is checked on each of them; with tags many agents have,
 * the text's indexes find the matches. How many agents have the tags is counted once and
 * remembered.
 */
describe("search with text and tags: narrowed by the tags when few agents have them", () => {
  const env = useCountedApp();

  beforeAll(async () => {
    const { db } = env.database;
    // NARROW_TAGGED + 1 agents share `common`; 3 of them also have `rare`.
    await db.query(
      `INSERT INTO agents (owner_account_id, slug, name, description, tags, pricing, input_schema,
                           output_schema)
       SELECT owner_account_id, 'common-' || i, 'Common helper ' || i, 'Reviews pull requests.',
              CASE WHEN i <= 3 THEN ARRAY['common', 'rare'] ELSE ARRAY['common'] END,
              pricing, input_schema, output_schema
       FROM agents, generate_series(1, $2::int) AS i WHERE agent_id = $1`,
      [env.agentId, NARROW_TAGGED + 1],
    );
    await db.query("ANALYZE agents");
  });

  const search = async (query: string) => {
    env.statements.length = 0;
    const response = await env.app.inject({
      method: "GET",
      url: `/v1/agents/search?${query}`,
      headers: { authorization: `Bearer ${env.buyerKey}` },
    });
    expect(response.statusCode, response.body).toBe(200);
    return {
      body: response.json() as { agents: { slug: string }[]; total: number },
      counted: env.statements.filter((s) => s.includes("AS tagged")).length,
      narrowed: env.statements.some((s) => /\btagged AS MATERIALIZED\b/.test(s)),
    };
  };

  it("checks the text on each agent of a rare set of tags, and counts the set once", async () => {
    const first = await search("q=reviews&tag=rare&tag=common");
    expect(first.body.agents.map((agent) => agent.slug).sort()).toEqual([
      "common-1",
      "common-2",
      "common-3",
    ]);
    expect(first).toMatchObject({ counted: 1, narrowed: true });
    // The same set in another order, with another text: remembered.
    const again = await search("q=pull&tag=common&tag=rare");
    expect(again).toMatchObject({ counted: 0, narrowed: true });
    expect(again.body.total).toBe(3);
  });

  it("finds the matches through the text's indexes when many agents have the tags", async () => {
    const common = await search("q=reviews&tag=common");
    expect(common).toMatchObject({ counted: 1, narrowed: false });
    expect(common.body.total).toBeGreaterThan(3);
  });

  it("counts nothing for tags alone or text alone", async () => {
    expect(await search("tag=rare")).toMatchObject({ counted: 0, narrowed: false });
    expect(await search("q=reviews")).toMatchObject({ counted: 0, narrowed: false });
  });
});
