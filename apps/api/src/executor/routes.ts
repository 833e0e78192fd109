import { CompleteJobRequest, routes } from "@agnt/contract";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { clientGone } from "../http/abort.ts";
import { AppError, zodFieldErrors } from "../http/problem.ts";
import { registerRoute } from "../http/route.ts";
import * as executor from "./service.ts";

/** The executor routes (provider key). */
export function executorRoutes(app: FastifyInstance, deps: executor.ExecutorDeps): void {
  const { db } = deps;
  registerRoute(app, db, routes.listExecutorJobs, ({ query, principal, reply }) =>
    executor.listJobs(deps, principal.accountId, query, clientGone(reply)),
  );
  registerRoute(app, db, routes.updateJobStatus, ({ params, body, principal }) =>
    executor.updateStatus(deps, principal.accountId, params.job_id, body),
  );
  registerRoute(app, db, routes.completeJob, async ({ params, body, principal, request }) => {
    const attempt = body ? body.attempt : await readMultipartAttempt(request);
    return executor.completeJob(deps, principal.accountId, params.job_id, attempt);
  });
}

/** Reads a multipart completion that carries only its `attempt` field. */
async function readMultipartAttempt(request: FastifyRequest): Promise<number> {
  const fields: Record<string, unknown> = {};
  for await (const part of request.parts()) {
    if (part.type === "file") {
      part.file.resume();
      throw new AppError("MALFORMED_MULTIPART", {
        detail: "This API version does not take result files yet; complete without `files` parts.",
      });
    }
    if (part.fieldname in fields) {
      throw new AppError("MALFORMED_MULTIPART", {
        detail: `Field \`${part.fieldname}\` appears twice.`,
      });
    }
    fields[part.fieldname] = part.value;
  }
  const raw = fields.attempt;
  const parsed = CompleteJobRequest.safeParse({
    ...fields,
    attempt: typeof raw === "string" && /^\d{1,9}$/.test(raw) ? Number(raw) : raw,
  });
  if (!parsed.success) {
    throw new AppError("VALIDATION_FAILED", {
      detail: "The multipart body needs one whole-number `attempt` field.",
      errors: zodFieldErrors("body", parsed.error),
    });
  }
  return parsed.data.attempt;
}
