import { routes } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import type { Db } from "../db/types.ts";
import { registerRoute } from "../http/route.ts";
import type { KeyCache } from "./key-cache.ts";
import * as accounts from "./service.ts";

/** Admin routes: accounts and keys. */
export function adminRoutes(app: FastifyInstance, deps: { db: Db; keys: KeyCache }): void {
  const { db, keys } = deps;
  registerRoute(app, keys, routes.createKey, ({ body }) => accounts.createKey(db, body));
  registerRoute(app, keys, routes.revokeKey, ({ params }) =>
    accounts.revokeKey(db, keys, params.key_id),
  );
}
