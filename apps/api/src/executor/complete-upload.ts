import { randomUUID } from "node:crypto";
import type { Job } from "@agnt/contract";
import type { FastifyReply, FastifyRequest } from "fastify";
import {
  multipartParts,
  recordResultFiles,
  type UploadLimits,
  UploadSession,
} from "../files/service.ts";
import { AppError } from "../http/problem.ts";
import { toJob } from "../jobs/model.ts";
import { checkTransition, type Scope, transition } from "../lifecycle/service.ts";
import type { ExecutorDeps } from "./service.ts";

/**
 * Completes a running job with result files (multipart/form-data: `attempt`, then `files`).
 * Ownership, status and — when given in the query — the attempt are checked before any byte
 * of the body is read; an `attempt` field is checked before any file is. Files stream into the
 * store; the transition and the result manifest are written in one transaction. A refused,
 * failed or interrupted upload leaves nothing stored and the job unchanged, so it can be retried.
 */
export async function completeWithFiles(
  deps: ExecutorDeps,
  limits: UploadLimits,
  context: {
    providerAccountId: string;
    jobId: string;
    queryAttempt: number | undefined;
    request: FastifyRequest;
    reply: FastifyReply;
    signal: AbortSignal;
  },
): Promise<Job> {
  const { jobId, providerAccountId } = context;
  const scope: Scope = { kind: "provider", accountId: providerAccountId };
  const change = {
    to: "completed" as const,
    actor: "executor" as const,
    actorAccountId: providerAccountId,
    attempt: context.queryAttempt,
  };
  const state = await checkTransition(deps, jobId, scope, change);
  const session = new UploadSession({
    store: deps.files.store,
    prefix: `jobs/${jobId}/results/${randomUUID()}/`,
    limits,
    signal: context.signal,
  });
  let attempt = context.queryAttempt;
  let attemptField = false;
  try {
    for await (const part of multipartParts(context.request, limits)) {
      if (part.type === "field") {
        if (part.fieldname !== "attempt" || attemptField) {
          throw new AppError("MALFORMED_MULTIPART", {
            detail: `Unexpected field \`${part.fieldname}\`: send one \`attempt\` field, then \`files\` parts.`,
          });
        }
        attemptField = true;
        attempt = parseAttempt(part.value, context.queryAttempt);
        if (attempt !== state.attempt) {
          throw new AppError("ATTEMPT_MISMATCH", {
            detail: `Job ${jobId} is at attempt ${state.attempt}, not ${attempt}.`,
          });
        }
      } else {
        if (attempt === undefined) {
          throw new AppError("MALFORMED_MULTIPART", {
            detail: "The `attempt` field must come before the files.",
          });
        }
        await session.receive(part);
      }
    }
    if (attempt === undefined) {
      throw new AppError("VALIDATION_FAILED", {
        detail: "The job's `attempt` is required.",
        errors: [{ in: "body", field: "attempt", message: "is required" }],
      });
    }
    const files = session.files;
    const row = await transition(deps, jobId, scope, { ...change, attempt }, (tx, done) =>
      recordResultFiles(tx, done.job_id, files),
    );
    return toJob(row);
  } catch (error) {
    await session.abandon(context.request, context.reply);
    throw error;
  }
}

function parseAttempt(value: unknown, fromQuery: number | undefined): number {
  const text = String(value);
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) {
    throw new AppError("VALIDATION_FAILED", {
      detail: "`attempt` must be a whole number ≥ 1.",
      errors: [{ in: "body", field: "attempt", message: "must be a whole number ≥ 1" }],
    });
  }
  const attempt = Number(text);
  if (fromQuery !== undefined && fromQuery !== attempt) {
    throw new AppError("VALIDATION_FAILED", {
      detail: `The \`attempt\` field (${attempt}) disagrees with ?attempt=${fromQuery}.`,
      errors: [{ in: "body", field: "attempt", message: "disagrees with the query" }],
    });
  }
  return attempt;
}
