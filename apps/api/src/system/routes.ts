import { generatedDocs, routes } from "@agnt/contract";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import type { Db } from "../db/types.ts";
import { AppError } from "../http/problem.ts";
import { type RouteSetup, registerRoute } from "../http/route.ts";

/** Health, readiness, the OpenAPI document and the interactive reference at /docs. */
export async function systemRoutes(
  app: FastifyInstance,
  deps: { db: Db; http: RouteSetup },
): Promise<void> {
  const { db, http } = deps;
  registerRoute(app, http, routes.health, async () => ({ status: "ok" as const }));
  registerRoute(app, http, routes.ready, async () => {
    try {
      await db.query("SELECT 1");
    } catch (cause) {
      throw new AppError("SERVICE_UNAVAILABLE", { detail: "The database does not answer.", cause });
    }
    return { status: "ok" as const, database: "ok" as const };
  });

  const document = JSON.parse(generatedDocs()["openapi.json"] as string);
  app.get("/openapi.json", { schema: { hide: true } }, async () => document);
  await app.register(swagger, { mode: "static", specification: { document } });
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { deepLinking: true } });
}
