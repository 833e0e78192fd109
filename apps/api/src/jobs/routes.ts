import { routes } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import type { KeyCache } from "../accounts/key-cache.ts";
import { clientGone } from "../http/abort.ts";
import { registerRoute } from "../http/route.ts";
import { streamJobEvents } from "./events.ts";
import { orderWithFiles } from "./order-upload.ts";
import * as jobs from "./service.ts";

/** The buyer's job routes. */
export function jobRoutes(app: FastifyInstance, deps: jobs.JobsDeps & { keys: KeyCache }): void {
  const { keys } = deps;
  registerRoute(
    app,
    keys,
    routes.createJob,
    async ({ body, upload, headers, principal, reply }) => {
      const idempotencyKey = headers["idempotency-key"];
      const { job, replayed } = upload
        ? await orderWithFiles(deps, principal.accountId, idempotencyKey, upload)
        : await jobs.createJob(deps, principal.accountId, body, idempotencyKey);
      if (replayed) reply.header("idempotent-replayed", "true");
      return job;
    },
    { uploads: deps.files.limits },
  );
  registerRoute(app, keys, routes.listJobs, ({ query, principal }) =>
    jobs.listJobs(deps, principal.accountId, query),
  );
  registerRoute(app, keys, routes.getJob, ({ params, query, principal, reply }) =>
    jobs.getJob(deps, principal.accountId, params.job_id, query.wait, clientGone(reply)),
  );
  registerRoute(app, keys, routes.cancelJob, ({ params, body, principal }) =>
    jobs.cancelJob(deps, principal.accountId, params.job_id, body.reason),
  );
  registerRoute(app, keys, routes.getJobEvents, async ({ params, headers, principal, reply }) => {
    await streamJobEvents(
      deps,
      principal.accountId,
      params.job_id,
      Number(headers["last-event-id"] ?? 0),
      reply,
    );
  });
  registerRoute(app, keys, routes.getJobResult, ({ params, principal }) =>
    jobs.getResult(deps, principal.accountId, params.job_id),
  );
}
