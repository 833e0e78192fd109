import { randomUUID } from "node:crypto";
import multipart from "@fastify/multipart";
import Fastify, { type FastifyInstance } from "fastify";
import { KEY_CHANNEL, KeyCache } from "./accounts/key-cache.ts";
import { adminRoutes } from "./accounts/routes.ts";
import { AgentCache } from "./agents/order-cache.ts";
import { agentRoutes } from "./agents/routes.ts";
import { AUTOVACUUM_NAPTIME_MS } from "./db/autovacuum.ts";
import type { Db } from "./db/types.ts";
import { DEFAULTS } from "./defaults.ts";
import { ChangeFeed } from "./events/feed.ts";
import { CompletionBatches } from "./executor/completions.ts";
import { ExecutorInstances } from "./executor/instances.ts";
import { executorRoutes } from "./executor/routes.ts";
import { fileRoutes } from "./files/routes.ts";
import type { UploadLimits } from "./files/upload.ts";
import { AccessLog } from "./http/access-log.ts";
import { type DrainLimits, installBodyDrain } from "./http/drain.ts";
import { installErrorHandling, sendProblem } from "./http/error-handler.ts";
import { ParamsValidator } from "./jobs/params.ts";
import { jobRoutes } from "./jobs/routes.ts";
import { orderBatcher } from "./jobs/service.ts";
import { TransitionBatches } from "./lifecycle/batches.ts";
import { startSweeper } from "./lifecycle/sweeper.ts";
import { bufferedDestination } from "./log.ts";
import { startAutovacuum, startMaintenance } from "./maintenance.ts";
import type { ObjectStore } from "./storage/types.ts";
import { systemRoutes } from "./system/routes.ts";

export interface AppOptions {
  db: Db;
  /** Where input and result files live. */
  store: ObjectStore;
  /** Upload limits (defaults in defaults.ts: 1 GiB per file, 100 files, 5 GiB per job). */
  uploads?: Partial<Omit<UploadLimits, "maxFieldBytes">>;
  /** Lifetime of download URLs in seconds (DEFAULTS.downloadUrlTtlSeconds). */
  downloadUrlTtlSeconds?: number;
  /** Length of executor leases in seconds (DEFAULTS.leaseSeconds; fractions allowed). */
  leaseSeconds?: number;
  /** How long pending jobs handed to a poll stay reserved for its executor (DEFAULTS). */
  reservationSeconds?: number;
  /** How often this process sweeps lapsed leases and deadlines, in ms; 0 (the default here) turns it off. */
  sweepIntervalMs?: number;
  /** Delete stored files after this many days (default: keep forever). */
  retentionDays?: number | undefined;
  /** Largest JSON body accepted, in bytes (DEFAULTS.maxJsonBodyBytes). */
  maxJsonBodyBytes?: number;
  /** Pino log level, or false for no logs (tests). */
  logLevel?: string | false;
  /** Where log lines go (default stdout). */
  logStream?: { write(line: string): void };
  /** The process's change feed; one is made when left out. */
  feed?: ChangeFeed;
  /** Housekeeping interval in ms (default 10 minutes); 0 turns it off. */
  maintenanceIntervalMs?: number;
  /** How much of a refused request's unread body is discarded before closing (http/drain.ts). */
  drain?: DrainLimits;
  /** How long a looked-up key is trusted before it is read again, in seconds (0: every time). */
  keyCacheSeconds?: number;
  /** Check every response against the contract (tests; default off: http/route.ts). */
  validateResponses?: boolean;
}

/** Builds the API: every route of the contract, with problem+json errors. Tests drive it with inject(). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  // Lines go to stdout in chunks unless a stream is given (log.ts).
  const destination =
    options.logLevel === false || options.logStream ? undefined : bufferedDestination();
  const app = Fastify({
    logger:
      options.logLevel === false
        ? false
        : {
            level: options.logLevel ?? "info",
            stream: options.logStream ?? destination,
            redact: ["req.headers.authorization", 'req.headers["x-api-key"]'],
          },
    bodyLimit: options.maxJsonBodyBytes ?? DEFAULTS.maxJsonBodyBytes,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // One access line per request instead of Fastify's two.
    logController: new AccessLog(),
    forceCloseConnections: true,
    // Long path ids reach the handler, where validation refuses them with a problem document.
    routerOptions: { maxParamLength: 16_384 },
    // Router errors (malformed percent-encoding in the path) also leave as problem+json.
    frameworkErrors: (error, request, reply) => sendProblem(error, request, reply),
  });
  // Long-polls wake on the database's job notifications, and cached keys are forgotten on
  // its key revocations (one LISTEN connection per process).
  const feed = options.feed ?? new ChangeFeed();
  const keys = new KeyCache(options.db, {
    ttlMs: (options.keyCacheSeconds ?? DEFAULTS.keyCacheSeconds) * 1000,
  });
  await feed.listen(options.db, app.log, { [KEY_CHANNEL]: keys.listener });
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  // Bodies are JSON or multipart; anything else is 415, not a string handed to a JSON route.
  app.removeContentTypeParser("text/plain");
  // Multipart bodies are read only when a handler asks for their parts, after the key, the
  // job and its state were checked; each route sets its own limits (files/upload.ts).
  await app.register(multipart, { preservePath: true, limits: { fields: 20, fieldSize: 1024 } });
  installErrorHandling(app);
  // A refusal sent before the body was read still reaches the client (no connection reset).
  installBodyDrain(app, options.drain);

  const limits: UploadLimits = {
    maxFileBytes: options.uploads?.maxFileBytes ?? DEFAULTS.maxUploadFileBytes,
    maxFiles: options.uploads?.maxFiles ?? DEFAULTS.maxUploadFiles,
    maxTotalBytes: options.uploads?.maxTotalBytes ?? DEFAULTS.maxUploadJobBytes,
    maxFieldBytes: options.maxJsonBodyBytes ?? DEFAULTS.maxJsonBodyBytes,
  };
  const files = {
    store: options.store,
    urlTtlSeconds: options.downloadUrlTtlSeconds ?? DEFAULTS.downloadUrlTtlSeconds,
    limits,
    log: app.log,
  };
  const deps = {
    db: options.db,
    http: { keys, validateResponses: options.validateResponses ?? false },
    feed,
    params: new ParamsValidator(),
    agents: new AgentCache(options.db),
    transitions: new TransitionBatches(options.db),
    completions: new CompletionBatches(options.db),
    orders: orderBatcher(options.db, feed),
    files,
    store: options.store,
    leaseSeconds: options.leaseSeconds ?? DEFAULTS.leaseSeconds,
    reservationSeconds: options.reservationSeconds ?? DEFAULTS.reservationSeconds,
    instances: new ExecutorInstances(options.db),
  };
  await systemRoutes(app, deps);
  agentRoutes(app, deps);
  jobRoutes(app, deps);
  executorRoutes(app, deps);
  fileRoutes(app, deps);
  adminRoutes(app, deps);

  const maintenanceMs = options.maintenanceIntervalMs ?? DEFAULTS.maintenanceIntervalSeconds * 1000;
  const stopMaintenance =
    maintenanceMs > 0
      ? startMaintenance(
          { db: options.db, store: options.store, retentionDays: options.retentionDays },
          app.log,
          maintenanceMs,
        )
      : () => {};
  // PGlite runs no autovacuum: the API does its work (with housekeeping, so not in tests).
  const stopVacuum =
    maintenanceMs > 0 && options.db.kind === "pglite"
      ? startAutovacuum(options.db, app.log, AUTOVACUUM_NAPTIME_MS)
      : () => {};
  const stopSweeper =
    (options.sweepIntervalMs ?? 0) > 0
      ? startSweeper(deps, app.log, options.sweepIntervalMs as number)
      : () => {};
  // Wake long-polls so that close() does not wait for them.
  app.addHook("preClose", async () => {
    stopSweeper();
    stopMaintenance();
    stopVacuum();
    await feed.close();
  });
  app.addHook("onClose", async () => destination?.close());
  return app;
}
