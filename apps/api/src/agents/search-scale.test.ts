import { beforeAll, describe, expect, it } from "vitest";
import { type CallResult, useTestEnv } from "../../test/harness.ts";
import { searchText } from "./sql.ts";
import { RANKED, type Statement, searchStatement } from "./statements.ts";

/** A node of `EXPLAIN (FORMAT JSON)`. */
interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Subplan Name"?: string;
  "Actual Loops": number;
  Plans?: PlanNode[];
}

/** More matches than are ranked and counted: the head, the tail, the capped total. */
describe("GET /v1/agents/search past the ranked head", () => {
  const env = useTestEnv();
  const ZEBRAS = 2 * RANKED + 37;
  /** Every zebra agent, newest first. */
  let zebras: string[] = [];
  /** The zebra agents that handle workloads (all but the masters), newest first. */
  let helpers: string[] = [];
  /** Old agents named after zebras: the oldest of all, yet ranked first. */
  let masters: string[] = [];

  beforeAll(async () => {
    const { db } = env.database;
    await db.query(
      `INSERT INTO agents (owner_account_id, slug, name, description, tags, pricing, input_schema,
                           output_schema, created_at)
       SELECT $1, 'zebra-' || i, 'Striped helper ' || i, 'Handles zebra workloads.',
              ARRAY['stripes'], '{"model": "free", "amount_cents": 0, "currency": "USD"}',
              '{"type": "object"}', '{"type": "object"}', now() - make_interval(mins => i)
       FROM generate_series(1, $2::int) AS i`,
      [env.provider.accountId, ZEBRAS - 3],
    );
    await db.query(
      `INSERT INTO agents (owner_account_id, slug, name, description, tags, pricing, input_schema,
                           output_schema, created_at)
       SELECT $1, 'zebra-master-' || i, 'Zebra master ' || i, 'The original.', ARRAY['stripes'],
              '{"model": "free", "amount_cents": 0, "currency": "USD"}', '{"type": "object"}',
              '{"type": "object"}', now() - make_interval(days => 30 + i)
       FROM generate_series(1, 3) AS i`,
      [env.provider.accountId],
    );
    const { rows } = await db.query<{ agent_id: string; name: string }>(
      `SELECT agent_id, name FROM agents WHERE slug LIKE 'zebra-%'
       ORDER BY created_at DESC, agent_id DESC`,
    );
    zebras = rows.map((row) => row.agent_id);
    masters = rows.filter((row) => row.name.startsWith("Zebra master")).map((r) => r.agent_id);
    helpers = zebras.filter((id) => !masters.includes(id));
  });

  const search = (query: string) =>
    env.call("GET", `/v1/agents/search?${query}`, { key: env.buyer.key });
  const ids = (response: CallResult): string[] =>
    response.body.agents.map((agent: { agent_id: string }) => agent.agent_id);

  it("counts up to the cap and says when the total is a lower bound", async () => {
    const first = await search("q=zebra");
    expect(first.status, first.text).toBe(200);
    expect(first.body.total).toBe(RANKED);
    expect(first.body.total_capped).toBe(true);
    const deep = await search("q=zebra&offset=200&limit=20");
    expect(deep.body.agents).toHaveLength(20);
    expect(deep.body.total).toBe(220);
    expect(deep.body.total_capped).toBe(true);
    // Past the last match: nothing reached, so no more than the cap is claimed.
    const past = await search("q=zebra&offset=100000");
    expect(past.body).toEqual({ agents: [], total: RANKED, total_capped: true });
    // Under the cap the total is exact and the flag absent.
    const few = await search("q=master");
    expect(few.body).toMatchObject({ total: 3 });
    expect(few.body).not.toHaveProperty("total_capped");
  });

  it("ranks name matches first, however old, then the newest matches", async () => {
    const response = await search("q=zebra&limit=10");
    expect(ids(response).slice(0, 3).sort()).toEqual([...masters].sort());
    expect(ids(response).slice(3)).toEqual(zebras.slice(0, 7));
  });

  it("pages through every match exactly once, head then tail", async () => {
    const cases: [string, () => string[]][] = [
      ["q=zebra", () => zebras],
      ["q=zebr", () => zebras],
      ["q=the%20zebr", () => zebras],
      ["q=handles%20zebr", () => helpers],
      ["q=zebra&tag=stripes", () => zebras],
      ["tag=stripes", () => zebras],
    ];
    for (const [query, expected] of cases) {
      const seen: string[] = [];
      for (let offset = 0; ; offset += 37) {
        const page = await search(`${query}&limit=37&offset=${offset}`);
        expect(page.status, page.text).toBe(200);
        if (page.body.agents.length === 0) break;
        expect(page.body.total, query).toBeGreaterThanOrEqual(offset + page.body.agents.length);
        seen.push(...ids(page));
      }
      expect(seen, query).toHaveLength(expected().length);
      expect([...seen].sort(), query).toEqual([...expected()].sort());
      // Past the head (the newest RANKED + 1, and the name matches), newest first.
      const tail = seen.slice(RANKED + 1 + masters.length);
      expect(tail.length, query).toBeGreaterThan(0);
      expect(tail, query).toEqual(expected().filter((id) => tail.includes(id)));
    }
  });

  it("finds the word being typed and every word of several", async () => {
    for (const query of ["q=zebr", "q=handles%20zebr", "q=zebra%20workl", "q=the%20zebr"]) {
      const response = await search(query);
      expect(response.body.total_capped, query).toBe(true);
      expect(
        ids(response).every((id) => zebras.includes(id)),
        query,
      ).toBe(true);
    }
    expect((await search("q=workloads%20masters")).body).toEqual({ agents: [], total: 0 });
    expect((await search("q=zebra%20orig")).body.total).toBe(3);
  });

  /** The scans of `agents` in the CTE `cte` of the search's plan, with how often each ran. */
  async function scansIn(
    q: string,
    cte: string,
    options: { tags?: string[]; narrow?: boolean } = {},
  ): Promise<{ node: string; loops: number }[]> {
    const { db } = env.database;
    const text = await searchText(db, q);
    const statement = searchStatement(
      options.tags ?? [],
      { limit: 20, offset: 0 },
      text,
      options.narrow,
    );
    const { rows } = await db.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`,
      statement.values,
    );
    const scans: { node: string; loops: number }[] = [];
    const visit = (node: PlanNode, inside: boolean): void => {
      const here = inside || node["Subplan Name"] === `CTE ${cte}`;
      if (here && node["Relation Name"] === "agents") {
        scans.push({ node: node["Node Type"], loops: node["Actual Loops"] });
      }
      for (const child of node.Plans ?? []) visit(child, here);
    };
    const plan = rows[0]?.["QUERY PLAN"][0].Plan;
    if (!plan) throw new Error(`no plan for ${q}`);
    visit(plan, false);
    return scans;
  }

  it("reads a word's matches and its substring's in one scan", async () => {
    // One walk of agents_newest or one bitmap of both indexes: each match is read once.
    expect(await scansIn("zebra", "recent")).toHaveLength(1);
    expect(await scansIn("ebr", "recent")).toHaveLength(1);
  });

  it("looks for old name matches only when the head is full", async () => {
    // `master`: three matches, all in the head, so the name scan has nothing to add.
    expect((await search("q=master")).body.total).toBe(3);
    expect(await scansIn("master", "named")).toEqual([expect.objectContaining({ loops: 0 })]);
    // `zebra`: past the head, the old masters are found by name.
    const named = await scansIn("zebra", "named");
    expect(named.length).toBeGreaterThan(0);
    expect(named.every((scan) => scan.loops === 1)).toBe(true);
  });

  /** The ids of a statement's page, in order, and its total. */
  async function pageOf(statement: Statement): Promise<{ ids: string[]; total: number }> {
    const { rows } = await env.database.db.query<{ agent_id: string | null; total: number }>(
      statement.text,
      statement.values,
    );
    return {
      ids: rows.flatMap((row) => (row.agent_id ? [row.agent_id] : [])),
      total: rows[0]?.total ?? 0,
    };
  }

  it("finds the same pages when the text is checked on each tagged agent (narrowed)", async () => {
    const { db } = env.database;
    // Every kind of text: a word, the word being typed, several words, a substring, a name, no
    // trigram (the window); pages in the head and past it; matches and none.
    const texts = ["zebra", "zebr", "handles zebr", "the zebr", "ebr", "master", "_", "e", "okapi"];
    let compared = 0;
    for (const q of texts) {
      const text = await searchText(db, q);
      for (const [offset, limit] of [
        [0, 20],
        [95, 20],
        [150, 37],
      ] as const) {
        const page = { limit, offset };
        const indexed = await pageOf(searchStatement(["stripes"], page, text, false));
        const narrowed = await pageOf(searchStatement(["stripes"], page, text, true));
        expect(narrowed, `${q} ${offset}`).toEqual(indexed);
        compared += indexed.ids.length;
      }
    }
    expect(compared).toBeGreaterThan(400);
  });

  it("narrowed, reads the tagged agents in one scan, once", async () => {
    for (const q of ["zebra", "zebr", "handles zebr", "_"]) {
      const pool = await scansIn(q, "tagged", { tags: ["stripes"], narrow: true });
      expect(pool, q).toEqual([expect.objectContaining({ loops: 1 })]);
      // The matches come from the pool: no scan of agents of their own.
      expect(await scansIn(q, "recent", { tags: ["stripes"], narrow: true }), q).toEqual([]);
      expect(await scansIn(q, "named", { tags: ["stripes"], narrow: true }), q).toEqual([]);
    }
    // Not narrowed, the text's indexes or agents_newest find the matches.
    expect(await scansIn("zebra", "recent", { tags: ["stripes"] })).not.toEqual([]);
  });

  it("reaches agents through an index for every shape (sequential scans off)", async () => {
    const { db } = env.database;
    const shapes: [string | undefined, string[], number, boolean?][] = [
      [undefined, [], 0],
      [undefined, ["stripes"], 150],
      ["zebra", [], 0],
      ["zebra", ["stripes"], 150],
      ["zebra", ["stripes"], 150, true],
      ["zebr", [], 0],
      ["handles zebr", [], 150],
      ["handles zebr", ["stripes"], 0, true],
      ["ebr", [], 0],
      ["_", [], 0],
      ["_", ["stripes"], 0, true],
    ];
    for (const [q, tags, offset, narrow] of shapes) {
      const text = q ? await searchText(db, q) : undefined;
      const statement = searchStatement(tags, { limit: 20, offset }, text, narrow);
      const plan = await db.transaction(async (tx) => {
        await tx.query("SET LOCAL enable_seqscan = off");
        const { rows } = await tx.query<{ "QUERY PLAN": unknown }>(
          `EXPLAIN (FORMAT JSON) ${statement.text}`,
          statement.values,
        );
        return JSON.stringify(rows[0]?.["QUERY PLAN"]);
      });
      const scans = [...plan.matchAll(/"Node Type":"([^"]+)","[^{]*?"Relation Name":"(\w+)"/g)];
      const onAgents = scans.filter((match) => match[2] === "agents").map((match) => match[1]);
      expect(onAgents.length, `${q} ${tags}`).toBeGreaterThan(0);
      expect(onAgents, `${q} ${tags}: ${plan}`).not.toContain("Seq Scan");
    }
  });
});
