import pg from "pg";
import { planText, resolveText, searchStatement, textStatement, type TextRow } from "@agnt/api/search-statements";
import { SHAPES, type SearchQuery } from "../bench/search/shapes.ts";
const c = new pg.Client({ connectionString: process.argv[2] });
await c.connect();
for (const shape of SHAPES) {
  let plan = 0, exec = 0, n = 0;
  for (const query of shape.variants as SearchQuery[]) {
    const tags = [...new Set(query.tags ?? [])];
    const page = { limit: query.limit ?? 20, offset: query.offset ?? 0 };
    const q = query.q?.trim();
    let st = searchStatement(tags, page);
    if (q) {
      const p = planText(q); const t = textStatement(p);
      const { rows } = await c.query<TextRow>(t.text, t.values);
      st = searchStatement(tags, page, resolveText(p, rows[0] as TextRow));
    }
    for (let i = 0; i < 3; i++) {
      const { rows } = await c.query(`EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) ${st.text}`, st.values);
      const j = (rows[0] as any)["QUERY PLAN"][0];
      if (i > 0) { plan += j["Planning Time"]; exec += j["Execution Time"]; n++; }
    }
  }
  console.log(shape.name.padEnd(12), "plan", (plan / n).toFixed(2), "exec", (exec / n).toFixed(2));
}
await c.end();
