import type { Queryable } from "../db/types.ts";
import { TtlMap } from "../ttl-map.ts";
import { agentNotFound } from "./service.ts";
import { findOrderableAgent, type OrderableAgent } from "./sql.ts";

export interface AgentCacheOptions {
  /** How long an agent is remembered after it was read (default 60 s). */
  ttlMs?: number;
  /** Agents remembered at most (the oldest are forgotten first). */
  maxEntries?: number;
}

/**
 * Agents as orders see them, so that an order (or an executor's poll, checking the agent is
 * its provider's) costs no agent query. Never stale where it
 * matters: an order is written only if the agent's row is still at the version it was checked
 * against (`insertJob` matches `xmin`); when it is not, the order reads the agent again
 * (`fresh`), checks again and retries. Unknown agents are not remembered.
 */
export class AgentCache {
  readonly #db: Queryable;
  readonly #entries: TtlMap<string, OrderableAgent>;

  constructor(db: Queryable, options: AgentCacheOptions = {}) {
    this.#db = db;
    this.#entries = new TtlMap({ ttlMs: options.ttlMs ?? 60_000, maxEntries: options.maxEntries });
  }

  /** The agent, from memory when remembered; AGENT_NOT_FOUND when there is none. */
  async get(agentId: string): Promise<OrderableAgent> {
    return this.#entries.get(agentId) ?? this.fresh(this.#db, agentId);
  }

  /** The agent as stored now (read through `db`, e.g. an open transaction), remembered. */
  async fresh(db: Queryable, agentId: string): Promise<OrderableAgent> {
    const agent = await findOrderableAgent(db, agentId);
    if (!agent) {
      this.#entries.delete(agentId);
      throw agentNotFound(agentId);
    }
    this.#entries.set(agentId, agent);
    return agent;
  }
}
