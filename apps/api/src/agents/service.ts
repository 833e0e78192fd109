import type { Agent, AgentList, AgentStats, SearchAgentsQuery } from "@agnt/contract";
import type { Db, Queryable } from "../db/types.ts";
import { AppError } from "../http/problem.ts";
import * as sql from "./sql.ts";
import { narrows, RANKED } from "./statements.ts";
import type { TagCounts } from "./tag-counts.ts";
import type { SearchTexts } from "./text-cache.ts";

/** An agent as stored, with its provider's name and its executors online (requireAgent). */
export type AgentRow = sql.AgentRow;
export type OrderableAgent = sql.OrderableAgent;
/** What upsertAgent creates or updates an agent from. */
export type AgentInput = sql.AgentInput;

/** The agent card as the contract shapes it. */
export function toAgent(row: sql.AgentRow): Agent {
  return {
    agent_id: row.agent_id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    tags: row.tags,
    pricing: row.pricing,
    input_schema: row.input_schema,
    output_schema: row.output_schema,
    provider_name: row.provider_name,
    default_timeout_seconds: row.default_timeout_seconds,
    max_timeout_seconds: row.max_timeout_seconds,
    executors_online: row.executors_online,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** What a search remembers between requests. */
export interface SearchDeps {
  db: Db;
  texts: SearchTexts;
  tagCounts: TagCounts;
}

/**
 * Searches the catalogue. Blank text means no text filter; tags are all required. The total
 * counts up to RANKED matches; past it, `total_capped` says it is a lower bound. A text with
 * tags few agents have is checked on each of them (NARROW_TAGGED).
 */
export async function searchAgents(deps: SearchDeps, query: SearchAgentsQuery): Promise<AgentList> {
  const { db } = deps;
  const q = query.q?.trim();
  const tags = [...new Set(query.tag ?? [])];
  const page = { limit: query.limit, offset: query.offset };
  const [text, tagged] = await Promise.all([
    q ? deps.texts.get(db, q) : undefined,
    q && tags.length > 0 ? deps.tagCounts.get(db, tags) : undefined,
  ]);
  const { rows, total } = await sql.searchAgents(db, tags, page, text, narrows(tagged));
  const agents = rows.map(toAgent);
  if (total <= RANKED) return { agents, total };
  // More than RANKED match: at least that many, and at least as many as this page reaches.
  const reached = agents.length > 0 ? query.offset + agents.length : 0;
  return { agents, total: Math.max(RANKED, reached), total_capped: true };
}

/** There is no such agent. */
export function agentNotFound(agentId: string): AppError {
  return new AppError("AGENT_NOT_FOUND", { detail: `No agent ${agentId}.` });
}

/** The agent's row, or AGENT_NOT_FOUND. */
export async function requireAgent(db: Queryable, agentId: string): Promise<sql.AgentRow> {
  const row = await sql.findAgent(db, agentId);
  if (!row) throw agentNotFound(agentId);
  return row;
}

/** The agent's card, or AGENT_NOT_FOUND. */
export async function getAgent(db: Db, agentId: string): Promise<Agent> {
  return toAgent(await requireAgent(db, agentId));
}

/** The agent's track record, or AGENT_NOT_FOUND. */
export async function getAgentStats(db: Db, agentId: string): Promise<AgentStats> {
  await requireAgent(db, agentId);
  const row = await sql.agentStats(db, agentId);
  const decided = row.completed_jobs + row.failed_jobs + row.rejected_jobs;
  return {
    agent_id: agentId,
    ...row,
    success_rate: decided === 0 ? null : row.completed_jobs / decided,
  };
}

/**
 * Creates the agent, or updates the one with the same slug (only when something changed);
 * returns its id. `db` may be a transaction (the seed writes its catalogue in one).
 */
export function upsertAgent(db: Queryable, agent: AgentInput): Promise<string> {
  return sql.upsertAgent(db, agent);
}
