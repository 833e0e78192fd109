import { randomUUID } from "node:crypto";
import multipart from "@fastify/multipart";
import Fastify, { type FastifyInstance } from "fastify";
import { adminRoutes } from "./accounts/routes.ts";
import { agentRoutes } from "./agents/routes.ts";
import type { Db } from "./db/types.ts";
import { ChangeFeed } from "./events/feed.ts";
import { executorRoutes } from "./executor/routes.ts";
import { installErrorHandling, sendProblem } from "./http/error-handler.ts";
import { ParamsValidator } from "./jobs/params.ts";
import { jobRoutes } from "./jobs/routes.ts";
import { startMaintenance } from "./maintenance.ts";
import { systemRoutes } from "./system/routes.ts";

export interface AppOptions {
  db: Db;
  /** Largest JSON body accepted, in bytes (default 1 MiB). */
  maxJsonBodyBytes?: number;
  /** How often a long-poll re-reads to catch changes made by other processes (default 1000 ms). */
  recheckMs?: number;
  /** Pino log level, or false for no logs (tests). */
  logLevel?: string | false;
  /** The process's change feed; one is made when left out. */
  feed?: ChangeFeed;
  /** Housekeeping interval in ms (default 10 minutes); 0 turns it off. */
  maintenanceIntervalMs?: number;
}

/** Builds the API: every route of the contract, with problem+json errors. Tests drive it with inject(). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const feed = options.feed ?? new ChangeFeed({ recheckMs: options.recheckMs ?? 1000 });
  const app = Fastify({
    logger:
      options.logLevel === false
        ? false
        : {
            level: options.logLevel ?? "info",
            redact: ["req.headers.authorization", 'req.headers["x-api-key"]'],
          },
    bodyLimit: options.maxJsonBodyBytes ?? 1024 * 1024,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    forceCloseConnections: true,
    // Long path ids reach the handler, where validation refuses them with a problem document.
    maxParamLength: 16_384,
    // Router errors (malformed percent-encoding in the path) also leave as problem+json.
    frameworkErrors: (error, request, reply) => sendProblem(error, request, reply),
  });
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  // Bodies are JSON or multipart; anything else is 415, not a string handed to a JSON route.
  app.removeContentTypeParser("text/plain");
  await app.register(multipart, { limits: { fields: 10, fieldSize: 1024 } });
  installErrorHandling(app);

  const deps = { db: options.db, feed, params: new ParamsValidator() };
  await systemRoutes(app, deps);
  agentRoutes(app, deps);
  jobRoutes(app, deps);
  executorRoutes(app, deps);
  adminRoutes(app, deps);

  const maintenanceMs = options.maintenanceIntervalMs ?? 10 * 60 * 1000;
  const stopMaintenance =
    maintenanceMs > 0 ? startMaintenance(options.db, app.log, maintenanceMs) : () => {};
  // Wake long-polls so that close() does not wait for them.
  app.addHook("preClose", async () => {
    stopMaintenance();
    feed.close();
  });
  return app;
}
