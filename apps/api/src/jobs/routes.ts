import { routes } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import { clientGone } from "../http/abort.ts";
import { type RouteSetup, registerRoute } from "../http/route.ts";
import { streamJobEvents } from "./events.ts";
import { orderWithFiles } from "./order-upload.ts";
import * as jobs from "./service.ts";

/** The buyer's job routes. */
export function jobRoutes(app: FastifyInstance, deps: jobs.JobsDeps & { http: RouteSetup }): void {
  const { http } = deps;
  registerRoute(
    app,
    http,
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
  registerRoute(app, http, routes.listJobs, ({ query, principal }) =>
    jobs.listJobs(deps, principal.accountId, query),
  );
  registerRoute(app, http, routes.getJob, ({ params, query, principal, reply }) =>
    jobs.getJob(deps, principal.accountId, params.job_id, query.wait, clientGone(reply)),
  );
  registerRoute(app, http, routes.cancelJob, ({ params, body, principal }) =>
    jobs.cancelJob(deps, principal.accountId, params.job_id, body.reason),
  );
  registerRoute(app, http, routes.getJobEvents, async ({ params, headers, principal, reply }) => {
    await streamJobEvents(
      deps,
      principal.accountId,
      params.job_id,
      Number(headers["last-event-id"] ?? 0),
      reply,
    );
  });
  registerRoute(app, http, routes.getJobResult, ({ params, principal }) =>
    jobs.getResult(deps, principal.accountId, params.job_id),
  );
}
