import { routes } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import type { Db } from "../db/types.ts";
import { type RouteSetup, registerRoute } from "../http/route.ts";
import * as accounts from "./service.ts";

/** Admin routes: accounts and keys. */
export function adminRoutes(app: FastifyInstance, deps: { db: Db; http: RouteSetup }): void {
  const { db, http } = deps;
  const { keys } = http;
  registerRoute(app, http, routes.createKey, ({ body }) => accounts.createKey(db, body));
  registerRoute(app, http, routes.revokeKey, ({ params }) =>
    accounts.revokeKey(db, keys, params.key_id),
  );
}
