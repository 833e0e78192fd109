import { routes } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import type { KeyCache } from "../accounts/key-cache.ts";
import type { Db } from "../db/types.ts";
import { registerRoute } from "../http/route.ts";
import * as agents from "./service.ts";

/** The catalogue routes. */
export function agentRoutes(app: FastifyInstance, deps: { db: Db; keys: KeyCache }): void {
  const { db, keys } = deps;
  registerRoute(app, keys, routes.searchAgents, ({ query }) => agents.searchAgents(db, query));
  registerRoute(app, keys, routes.getAgent, ({ params }) => agents.getAgent(db, params.agent_id));
  registerRoute(app, keys, routes.getAgentStats, ({ params }) =>
    agents.getAgentStats(db, params.agent_id),
  );
}
