import type { BenchDb } from "./db.ts";
import { type SearchQuery, SHAPES } from "./shapes.ts";
import { searchStatements } from "./statements.ts";

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
  /((?:Parallel )?(?:Bitmap Index|Bitmap Heap|Index Only|Index|Seq) Scan(?: Backward)?(?: using \S+)? on \S+)/;

/**
 * `EXPLAIN (ANALYZE, BUFFERS)` of every statement the search runs, for the first variant of
 * each shape; each statement runs once before, so the plan shown is a warm one.
 */
export async function explainShapes(db: BenchDb): Promise<Explained[]> {
  const explained: Explained[] = [];
  for (const shape of SHAPES) {
    const query = shape.variants[0] as SearchQuery;
    for (const statement of searchStatements(query)) {
      await db.query(statement.text, statement.values);
      const rows = await db.query<{ "QUERY PLAN": string }>(
        `EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`,
        statement.values,
      );
      const lines = rows.map((row) => row["QUERY PLAN"]);
      const scans = lines
        .map((line) => SCAN.exec(line)?.[1])
        .filter((scan): scan is string => scan !== undefined && !scan.startsWith("Bitmap Heap"));
      const execution = lines.find((line) => line.startsWith("Execution Time"));
      explained.push({
        shape: shape.name,
        query,
        statement: statement.name,
        scans: [...new Set(scans)],
        executionMs: Number(/([\d.]+) ms/.exec(execution ?? "")?.[1] ?? Number.NaN),
        plan: lines.join("\n"),
      });
    }
  }
  return explained;
}
