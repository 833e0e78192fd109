import { routes } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import type { Db } from "../db/types.ts";
import { type RouteSetup, registerRoute } from "../http/route.ts";
import * as agents from "./service.ts";
import { TagCounts } from "./tag-counts.ts";
import { SearchTexts } from "./text-cache.ts";

/** The catalogue routes. */
export function agentRoutes(app: FastifyInstance, deps: { db: Db; http: RouteSetup }): void {
  const { db, http } = deps;
  const search = { db, texts: new SearchTexts(), tagCounts: new TagCounts() };
  registerRoute(app, http, routes.searchAgents, ({ query }) => agents.searchAgents(search, query));
  registerRoute(app, http, routes.getAgent, ({ params }) => agents.getAgent(db, params.agent_id));
  registerRoute(app, http, routes.getAgentStats, ({ params }) =>
    agents.getAgentStats(db, params.agent_id),
  );
}
