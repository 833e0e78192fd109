import type { Queryable } from "../db/types.ts";
import { agentNotFound } from "./service.ts";
import { findOrderableAgent, type OrderableAgent } from "./sql.ts";

export interface AgentCacheOptions {
  /** How long an agent is remembered after it was read (default 60 s). */
  ttlMs?: number;
  /** Agents remembered at most (the oldest are forgotten first). */
  maxEntries?: number;
}

/**
 * Agents as orders see them, so that an order costs no agent query. Never stale where it
 * matters: an order is written only if the agent's row is still at the version it was checked
 * against (`insertJob` matches `xmin`); when it is not, the order reads the agent again
 * (`fresh`), checks again and retries. Unknown agents are not remembered.
 */
export class AgentCache {
  readonly #db: Queryable;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { agent: OrderableAgent; until: number }>();

  constructor(db: Queryable, options: AgentCacheOptions = {}) {
    this.#db = db;
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** The agent, from memory when remembered; AGENT_NOT_FOUND when there is none. */
  async get(agentId: string): Promise<OrderableAgent> {
    const cached = this.#entries.get(agentId);
    if (cached && cached.until > Date.now()) return cached.agent;
    return this.fresh(this.#db, agentId);
  }

  /** The agent as stored now (read through `db`, e.g. an open transaction), remembered. */
  async fresh(db: Queryable, agentId: string): Promise<OrderableAgent> {
    const agent = await findOrderableAgent(db, agentId);
    this.#entries.delete(agentId);
    if (!agent) throw agentNotFound(agentId);
    if (this.#ttlMs > 0) {
      if (this.#entries.size >= this.#maxEntries) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      this.#entries.set(agentId, { agent, until: Date.now() + this.#ttlMs });
    }
    return agent;
  }
}
