import {
  isTerminal,
  JOB_STATUSES,
  type JobStatus,
  type Pricing,
  TERMINAL_STATUSES,
} from "@agnt/contract";
import type { Queryable } from "../db/types.ts";
import {
  AGENT_COLUMNS,
  executorsOnline,
  planText,
  resolveText,
  type SearchText,
  searchStatement,
  type TextRow,
  taggedStatement,
  textStatement,
} from "./statements.ts";

/**
 * Strings as a SQL list of literals: `'a', 'b'`. For closed sets defined in code (statuses),
 * never for user input.
 */
export function sqlList(values: readonly string[]): string {
  return values.map((value) => `'${value.replace(/'/g, "''")}'`).join(", ");
}

/** An agent as stored, with its provider's name and how many of its executors are online. */
export interface AgentRow {
  agent_id: string;
  owner_account_id: string;
  slug: string;
  name: string;
  description: string;
  tags: string[];
  pricing: Pricing;
  input_schema: Record<string, unknown>;
  output_schema: Record<string, unknown>;
  provider_name: string;
  default_timeout_seconds: number | null;
  max_timeout_seconds: number | null;
  executors_online: number;
  created_at: Date;
  updated_at: Date;
}

/**
 * What an order needs of its agent, and the row's version: its `xmin`, which every update of
 * the row changes (whoever makes it, through the API or in SQL).
 */
export interface OrderableAgent {
  agent_id: string;
  owner_account_id: string;
  slug: string;
  input_schema: Record<string, unknown>;
  default_timeout_seconds: number | null;
  max_timeout_seconds: number | null;
  version: string;
}

/** The agent as an order sees it, or undefined. */
export async function findOrderableAgent(
  db: Queryable,
  agentId: string,
): Promise<OrderableAgent | undefined> {
  const { rows } = await db.query<OrderableAgent>(
    `SELECT agent_id, owner_account_id, slug, input_schema, default_timeout_seconds,
            max_timeout_seconds, xmin::text AS version
     FROM agents WHERE agent_id = $1`,
    [agentId],
    { prepare: true },
  );
  return rows[0];
}

/** The agent with its card's columns, or undefined. */
export async function findAgent(db: Queryable, agentId: string): Promise<AgentRow | undefined> {
  const { rows } = await db.query<AgentRow>(
    `SELECT ${AGENT_COLUMNS}
     FROM agents a JOIN accounts p ON p.account_id = a.owner_account_id
     WHERE a.agent_id = $1`,
    [agentId],
    { prepare: true },
  );
  return rows[0];
}

const COMPLETED = sqlList(["completed"] satisfies JobStatus[]);
/** Jobs not finished yet. */
const UNFINISHED = JOB_STATUSES.filter((status) => !isTerminal(status));

/** The counts and timings of agentStats; one count per terminal status. */
export type AgentStatsRow = {
  executors_online: number;
  total_jobs: number;
  active_jobs: number;
  avg_duration_seconds: number | null;
  p50_duration_seconds: number | null;
  p95_duration_seconds: number | null;
  avg_run_seconds: number | null;
} & Record<`${(typeof TERMINAL_STATUSES)[number]}_jobs`, number>;

/** Counts and timings over the agent's jobs; timings over completed jobs only. */
export async function agentStats(db: Queryable, agentId: string): Promise<AgentStatsRow> {
  const { rows } = await db.query<AgentStatsRow>(
    `WITH j AS (
       SELECT status,
              extract(epoch FROM completed_at - created_at)::float8 AS turnaround,
              extract(epoch FROM completed_at - started_at)::float8 AS run
       FROM jobs WHERE agent_id = $1
     )
     SELECT ${executorsOnline("$1")} AS executors_online,
            count(*)::int AS total_jobs,
            count(*) FILTER (WHERE status IN (${sqlList(UNFINISHED)}))::int AS active_jobs,
            ${TERMINAL_STATUSES.map(
              (status) =>
                `count(*) FILTER (WHERE status = ${sqlList([status])})::int AS ${status}_jobs`,
            ).join(",\n            ")},
            avg(turnaround) FILTER (WHERE status = ${COMPLETED}) AS avg_duration_seconds,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY turnaround)
              FILTER (WHERE status = ${COMPLETED}) AS p50_duration_seconds,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY turnaround)
              FILTER (WHERE status = ${COMPLETED}) AS p95_duration_seconds,
            avg(run) FILTER (WHERE status = ${COMPLETED}) AS avg_run_seconds
     FROM j`,
    [agentId],
  );
  return rows[0] as AgentStatsRow;
}

/** What an agent is created or updated from. */
export interface AgentInput {
  ownerAccountId: string;
  slug: string;
  name: string;
  description: string;
  tags: string[];
  pricing: Pricing;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  defaultTimeoutSeconds?: number | null;
  maxTimeoutSeconds?: number | null;
}

/** Inserts an agent, or updates the one with the same slug; returns its id. */
export async function upsertAgent(db: Queryable, agent: AgentInput): Promise<string> {
  const { rows } = await db.query<{ agent_id: string }>(
    `INSERT INTO agents (owner_account_id, slug, name, description, tags, pricing, input_schema, output_schema,
                         default_timeout_seconds, max_timeout_seconds)
     VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9::int, $10::int)
     ON CONFLICT (slug) DO UPDATE SET
       owner_account_id = EXCLUDED.owner_account_id, name = EXCLUDED.name,
       description = EXCLUDED.description, tags = EXCLUDED.tags, pricing = EXCLUDED.pricing,
       input_schema = EXCLUDED.input_schema, output_schema = EXCLUDED.output_schema,
       default_timeout_seconds = EXCLUDED.default_timeout_seconds,
       max_timeout_seconds = EXCLUDED.max_timeout_seconds, updated_at = now()
     WHERE (agents.owner_account_id, agents.name, agents.description, agents.tags, agents.pricing,
            agents.input_schema, agents.output_schema, agents.default_timeout_seconds,
            agents.max_timeout_seconds)
       IS DISTINCT FROM (EXCLUDED.owner_account_id, EXCLUDED.name, EXCLUDED.description,
            EXCLUDED.tags, EXCLUDED.pricing, EXCLUDED.input_schema, EXCLUDED.output_schema,
            EXCLUDED.default_timeout_seconds, EXCLUDED.max_timeout_seconds)
     RETURNING agent_id`,
    [
      agent.ownerAccountId,
      agent.slug,
      agent.name,
      agent.description,
      agent.tags,
      JSON.stringify(agent.pricing),
      JSON.stringify(agent.inputSchema),
      JSON.stringify(agent.outputSchema),
      agent.defaultTimeoutSeconds ?? null,
      agent.maxTimeoutSeconds ?? null,
    ],
  );
  if (rows[0]) return rows[0].agent_id;
  const existing = await db.query<{ agent_id: string }>(
    "SELECT agent_id FROM agents WHERE slug = $1",
    [agent.slug],
  );
  return (existing.rows[0] as { agent_id: string }).agent_id;
}

/** The text as searched: its words normalized by PostgreSQL (statements.ts textStatement). */
export async function searchText(db: Queryable, text: string): Promise<SearchText> {
  const plan = planText(text);
  const statement = textStatement(plan);
  const { rows } = await db.query<TextRow>(statement.text, statement.values);
  return resolveText(plan, rows[0] as TextRow);
}

/** How many agents have every one of the tags, counted up to NARROW_TAGGED + 1. */
export async function countTagged(db: Queryable, tags: string[]): Promise<number> {
  const statement = taggedStatement(tags);
  const { rows } = await db.query<{ tagged: number }>(statement.text, statement.values);
  return (rows[0] as { tagged: number }).tagged;
}

/**
 * One page of matching agents (statements.ts searchStatement), and how many match, counted up
 * to RANKED + 1.
 */
export async function searchAgents(
  db: Queryable,
  tags: string[],
  page: { limit: number; offset: number },
  text?: SearchText,
  narrow = false,
): Promise<{ rows: AgentRow[]; total: number }> {
  const statement = searchStatement(tags, page, text, narrow);
  const { rows } = await db.query<AgentRow & { total: number }>(statement.text, statement.values);
  return {
    rows: rows.filter((row) => row.agent_id !== null),
    total: rows[0]?.total ?? 0,
  };
}
