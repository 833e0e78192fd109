import type { SearchQuery } from "./shapes.ts";

/**
 * The SQL statements `GET /v1/agents/search` runs for a query, copied from
 * `apps/api/src/agents/sql.ts` (the benchmark does not import the app). `search.test.ts`
 * checks that this copy is still what the API builds.
 */
export interface Statement {
  name: string;
  text: string;
  values: unknown[];
}

const AGENT_COLUMNS = `a.agent_id, a.owner_account_id, a.slug, a.name, a.description, a.tags, a.pricing,
  a.input_schema, a.output_schema, p.name AS provider_name, a.default_timeout_seconds,
  a.max_timeout_seconds, (SELECT count(*)::int FROM executor_instances e
  WHERE e.agent_id = a.agent_id AND e.last_seen_at > now() - interval '90 seconds') AS executors_online, a.created_at, a.updated_at`;

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function where(q: string | undefined, tags: string[]) {
  const params: unknown[] = [];
  const clauses: string[] = [];
  if (tags.length > 0) {
    params.push(tags);
    clauses.push(`a.tags @> $${params.length}::text[]`);
  }
  if (q) {
    params.push(q, `%${escapeLike(q.toLowerCase())}%`);
    clauses.push(
      `(a.search_vector @@ websearch_to_tsquery('english', $${params.length - 1}) OR a.search_text LIKE $${params.length} ESCAPE '\\')`,
    );
  }
  return { where: clauses.length ? `WHERE ${clauses.join(" AND ")}` : "", params };
}

/** The statements of one search, with their parameters. */
export function searchStatements(query: SearchQuery): Statement[] {
  const text = query.q?.trim() || undefined;
  const tags = [...new Set(query.tags ?? [])];
  const search = where(text, tags);
  let order = "a.created_at DESC, a.agent_id DESC";
  if (text) {
    const q = `$${search.params.indexOf(text) + 1}`;
    const like = `$${search.params.indexOf(text) + 2}`;
    order = `ts_rank_cd(a.search_vector, websearch_to_tsquery('english', ${q}), 1)
      + CASE WHEN lower(a.name) LIKE ${like} ESCAPE '\\' THEN 1 ELSE 0 END DESC, ${order}`;
  }
  const values = [...search.params, query.limit ?? 20, query.offset ?? 0];
  const count = where(text, tags);
  return [
    {
      name: "page",
      text: `SELECT ${AGENT_COLUMNS}
     FROM agents a JOIN accounts p ON p.account_id = a.owner_account_id
     ${search.where}
     ORDER BY ${order}
     LIMIT $${values.length - 1} OFFSET $${values.length}`,
      values,
    },
    {
      name: "total",
      text: `SELECT count(*)::int AS total FROM agents a ${count.where}`,
      values: count.params,
    },
  ];
}
