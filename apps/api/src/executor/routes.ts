import { type ExecutorHeaders, routes } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import { clientGone } from "../http/abort.ts";
import { type RouteSetup, registerRoute } from "../http/route.ts";
import { completeWithFiles } from "./complete-upload.ts";
import * as executor from "./service.ts";

/** The executor routes (provider key). */
export function executorRoutes(
  app: FastifyInstance,
  deps: executor.ExecutorDeps & { http: RouteSetup },
): void {
  const { http } = deps;
  // Executor instances are recorded with the agent they work for (from the query, or the job).
  const seen = async <T extends { agent_id: string }>(
    accountId: string,
    headers: ExecutorHeaders,
    job: T,
  ) => {
    await deps.instances.seen(accountId, headers, job.agent_id);
    return job;
  };
  registerRoute(app, http, routes.listExecutorJobs, ({ query, headers, principal, reply }) =>
    executor.listJobs(deps, principal.accountId, query, clientGone(reply), headers),
  );
  registerRoute(app, http, routes.updateJobStatus, async ({ params, body, headers, principal }) =>
    seen(
      principal.accountId,
      headers,
      await executor.updateStatus(
        deps,
        principal.accountId,
        params.job_id,
        body,
        headers["agnt-executor-id"],
      ),
    ),
  );
  registerRoute(app, http, routes.heartbeat, async ({ params, body, headers, principal }) =>
    seen(
      principal.accountId,
      headers,
      await executor.heartbeat(deps, principal.accountId, params.job_id, body),
    ),
  );
  registerRoute(
    app,
    http,
    routes.completeJob,
    async ({ params, query, body, headers, upload, principal }) => {
      const take = executor.nextTake(deps, query.next, headers["agnt-executor-id"]);
      return upload
        ? completeWithFiles(deps, principal.accountId, params.job_id, query.attempt, upload, take)
        : executor.completeJob(
            deps,
            principal.accountId,
            params.job_id,
            executor.agreedAttempt(query.attempt, body.attempt),
            take,
          );
    },
    { uploads: deps.files.limits },
  );
  registerRoute(app, http, routes.getJobInputs, ({ params, principal }) =>
    executor.getInputs(deps, principal.accountId, params.job_id),
  );
}
