import {
  narrows,
  planText,
  resolveText,
  type Statement,
  searchStatement,
  type TextRow,
  taggedStatement,
  textStatement,
} from "@agnt/api/search-statements";
import type { BenchDb } from "./db.ts";
import { type SearchQuery, SHAPES } from "./shapes.ts";

export interface Explained {
  shape: string;
  query: SearchQuery;
  statement: string;
  /** The scan nodes of the plan, e.g. `Index Scan using agents_newest on agents a`. */
  scans: string[];
  executionMs: number;
  plan: string;
}

const SCAN =
  /((?:Parallel )?(?:Bitmap Index|Bitmap Heap|Index Only|Index|Seq|CTE) Scan(?: Backward)?(?: using \S+)? on \S+)/;

/**
 * The statements a search runs, as the API builds them (statements.ts is its copy): for text,
 * the one that normalizes its words, and with tags too the one that counts the tagged agents
 * (the API remembers both), then the page.
 */
async function statementsOf(db: BenchDb, query: SearchQuery): Promise<[string, Statement][]> {
  const tags = [...new Set(query.tags ?? [])];
  const page = { limit: query.limit ?? 20, offset: query.offset ?? 0 };
  const q = query.q?.trim();
  if (!q) return [["page", searchStatement(tags, page)]];
  const plan = planText(q);
  const text = textStatement(plan);
  const [row] = await db.query<TextRow>(text.text, text.values);
  const statements: [string, Statement][] = [["text", text]];
  let narrow = false;
  if (tags.length > 0) {
    const count = taggedStatement(tags);
    const [counted] = await db.query<{ tagged: number }>(count.text, count.values);
    narrow = narrows((counted as { tagged: number }).tagged);
    statements.push(["tagged", count]);
  }
  statements.push(["page", searchStatement(tags, page, resolveText(plan, row as TextRow), narrow)]);
  return statements;
}

/**
 * `EXPLAIN (ANALYZE, BUFFERS)` of every statement the search runs, for the first variant of
 * each shape; each statement runs once before, so the plan shown is a warm one.
 */
export async function explainShapes(db: BenchDb): Promise<Explained[]> {
  const explained: Explained[] = [];
  for (const shape of SHAPES) {
    const query = shape.variants[0] as SearchQuery;
    for (const [name, statement] of await statementsOf(db, query)) {
      await db.query(statement.text, statement.values);
      const rows = await db.query<{ "QUERY PLAN": string }>(
        `EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`,
        statement.values,
      );
      const lines = rows.map((row) => row["QUERY PLAN"]);
      const scans = lines
        .map((line) => SCAN.exec(line)?.[1])
        .filter(
          (scan): scan is string =>
            scan !== undefined && !scan.startsWith("Bitmap Heap") && !scan.startsWith("CTE"),
        );
      const execution = lines.find((line) => line.startsWith("Execution Time"));
      explained.push({
        shape: shape.name,
        query,
        statement: name,
        scans: [...new Set(scans.map((scan) => scan.replace(/ on agents \w+$/, " on agents")))],
        executionMs: Number(/([\d.]+) ms/.exec(execution ?? "")?.[1] ?? Number.NaN),
        plan: lines.join("\n"),
      });
    }
  }
  return explained;
}
