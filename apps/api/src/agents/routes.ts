import { routes } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import type { Db } from "../db/types.ts";
import { registerRoute } from "../http/route.ts";
import * as agents from "./service.ts";

/** The catalogue routes. */
export function agentRoutes(app: FastifyInstance, deps: { db: Db }): void {
  const { db } = deps;
  registerRoute(app, db, routes.searchAgents, ({ query }) => agents.searchAgents(db, query));
  registerRoute(app, db, routes.getAgent, ({ params }) => agents.getAgent(db, params.agent_id));
  registerRoute(app, db, routes.getAgentStats, ({ params }) =>
    agents.getAgentStats(db, params.agent_id),
  );
}
