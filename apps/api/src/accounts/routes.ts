import { routes } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import type { Db } from "../db/types.ts";
import { registerRoute } from "../http/route.ts";
import * as accounts from "./service.ts";

/** Admin routes: accounts and keys. */
export function adminRoutes(app: FastifyInstance, deps: { db: Db }): void {
  const { db } = deps;
  registerRoute(app, db, routes.createKey, ({ body }) => accounts.createKey(db, body));
  registerRoute(app, db, routes.revokeKey, ({ params }) => accounts.revokeKey(db, params.key_id));
}
