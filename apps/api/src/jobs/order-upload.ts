import { randomUUID } from "node:crypto";
import { CreateJobRequest, type Job } from "@agnt/contract";
import type { FastifyReply, FastifyRequest } from "fastify";
import { multipartParts, type UploadLimits, UploadSession } from "../files/service.ts";
import { AppError, zodFieldErrors } from "../http/problem.ts";
import { type JobsDeps, type PreparedOrder, placeOrder, prepareOrder } from "./service.ts";

/**
 * Orders a job with input files: multipart/form-data with a `job` part (the JSON body) first,
 * then `files` parts. The order is checked (agent, params) before any file byte is read; the
 * files stream into the store under the new job's id; the job and its input manifest are then
 * written in one transaction. Any failure removes what was stored.
 */
export async function orderWithFiles(
  deps: JobsDeps,
  limits: UploadLimits,
  context: {
    buyerAccountId: string;
    idempotencyKey: string | undefined;
    request: FastifyRequest;
    reply: FastifyReply;
    signal: AbortSignal;
  },
): Promise<{ job: Job; replayed: boolean }> {
  const jobId = randomUUID();
  const session = new UploadSession({
    store: deps.files.store,
    prefix: `jobs/${jobId}/inputs/${randomUUID()}/`,
    limits,
    signal: context.signal,
  });
  let order: PreparedOrder | undefined;
  try {
    for await (const part of multipartParts(context.request, limits)) {
      if (part.type === "field") {
        if (part.fieldname !== "job" || order) {
          throw new AppError("MALFORMED_MULTIPART", {
            detail: `Unexpected field \`${part.fieldname}\`: send one \`job\` part, then \`files\` parts.`,
          });
        }
        order = await prepareOrder(deps, parseJobPart(part.value));
      } else {
        if (!order) {
          throw new AppError("MALFORMED_MULTIPART", {
            detail: "The `job` part must come before the files.",
          });
        }
        await session.receive(part);
      }
    }
    if (!order)
      throw new AppError("MALFORMED_MULTIPART", {
        detail: "The multipart body has no `job` part.",
      });
    const placed = await placeOrder(deps, context.buyerAccountId, order, {
      idempotencyKey: context.idempotencyKey,
      jobId,
      inputs: session.files,
    });
    // A replay returns the first order: this request's copies of the files are not needed.
    if (placed.replayed) await session.discard();
    return placed;
  } catch (error) {
    await session.abandon(context.request, context.reply);
    throw error;
  }
}

/** The `job` part: text, or already parsed when it was sent as `Content-Type: application/json`. */
function parseJobPart(value: unknown): CreateJobRequest {
  let json: unknown = value;
  if (typeof value === "string") {
    try {
      json = JSON.parse(value);
    } catch (cause) {
      throw new AppError("MALFORMED_JSON", { detail: "The `job` part is not valid JSON.", cause });
    }
  }
  const parsed = CreateJobRequest.safeParse(json);
  if (!parsed.success) {
    const errors = zodFieldErrors("body", parsed.error);
    throw new AppError("VALIDATION_FAILED", {
      detail: `Invalid \`job\` part: ${errors[0]?.field || "body"} ${errors[0]?.message ?? ""}.`,
      errors,
    });
  }
  return parsed.data;
}
