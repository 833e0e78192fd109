import type { ErrorCode } from "@agnt/contract";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isDatabaseUnavailable } from "../db/errors.ts";
import { AppError, problem } from "./problem.ts";

const PROBLEM_CONTENT_TYPE = "application/problem+json; charset=utf-8";

/** Fastify's and its plugins' own client errors, by their error code. */
const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "MALFORMED_JSON",
  FST_ERR_CTP_EMPTY_JSON_BODY: "MALFORMED_JSON",
  FST_ERR_CTP_INVALID_JSON_BODY: "MALFORMED_JSON",
  FST_INVALID_MULTIPART_CONTENT_TYPE: "MALFORMED_MULTIPART",
  FST_PARTS_LIMIT: "PAYLOAD_TOO_LARGE",
  FST_FILES_LIMIT: "PAYLOAD_TOO_LARGE",
  FST_FIELDS_LIMIT: "PAYLOAD_TOO_LARGE",
  FST_REQ_FILE_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_PROTO_VIOLATION: "MALFORMED_JSON",
  FST_ERR_BAD_URL: "VALIDATION_FAILED",
  FST_ERR_MAX_PARAM_LENGTH: "VALIDATION_FAILED",
};

function classify(error: FastifyError | Error): { code: ErrorCode; detail: string } {
  if (error instanceof AppError) return { code: error.code, detail: error.message };
  const fastifyCode = (error as FastifyError).code;
  const mapped = fastifyCode ? FRAMEWORK_CODES[fastifyCode] : undefined;
  if (mapped) return { code: mapped, detail: error.message };
  const status = (error as FastifyError).statusCode;
  if (error instanceof SyntaxError && status === 400) {
    return { code: "MALFORMED_JSON", detail: `Body is not valid JSON: ${error.message}` };
  }
  if (isDatabaseUnavailable(error)) {
    return { code: "SERVICE_UNAVAILABLE", detail: "The database is unavailable; retry shortly." };
  }
  if (status === 413) return { code: "PAYLOAD_TOO_LARGE", detail: error.message };
  if (status === 415) return { code: "UNSUPPORTED_MEDIA_TYPE", detail: error.message };
  if (status !== undefined && status >= 400 && status < 500) {
    return { code: "VALIDATION_FAILED", detail: error.message };
  }
  return { code: "INTERNAL", detail: "Internal error." };
}

/** Sends a problem document for the error, logging what the client is not shown. */
export function sendProblem(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const { code, detail } = classify(error);
  const body = problem(code, detail, {
    instance: request.url.split("?")[0] ?? request.url,
    requestId: String(request.id),
    ...(error instanceof AppError && error.errors ? { errors: error.errors } : {}),
  });
  if (body.status >= 500) {
    request.log.error({ err: error }, "request failed");
  } else {
    request.log.info({ code, detail }, "request refused");
  }
  if (code === "SERVICE_UNAVAILABLE") reply.header("retry-after", "1");
  // Router errors skip the onSend hook that sets it on other responses.
  reply.header("x-request-id", String(request.id));
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** Installs the error and not-found handlers: every error leaves as problem+json. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => sendProblem(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      new AppError("NOT_FOUND", {
        detail: `No route ${request.method} ${request.url.split("?")[0]}.`,
      }),
      request,
      reply,
    ),
  );
}
