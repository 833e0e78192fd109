import { isDeepStrictEqual } from "node:util";
import type { FieldError, RouteDef } from "@agnt/contract";
import type {} from "@fastify/multipart";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { KeyCache } from "../accounts/key-cache.ts";
import { authenticate, type Principal } from "../accounts/service.ts";
import type { UploadBody, UploadLimits } from "../files/upload.ts";
import { clientGone } from "./abort.ts";
import { extractKey } from "./auth.ts";
import { contractUpload } from "./multipart.ts";
import { AppError, zodFieldErrors } from "./problem.ts";

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler receives: the request's parts, parsed by the route's contract schemas. */
export interface RouteContext<R extends RouteDef> {
  params: Out<R["params"]>;
  query: Out<R["query"]>;
  headers: Out<R["headers"]>;
  /** The JSON body; for a multipart request, read it through `upload` instead. */
  body: Out<R["body"]>;
  /** A multipart request to a route that takes one (see `RouteDef.multipart`). */
  upload: R["multipart"] extends object ? UploadBody<Out<R["body"]>> | undefined : undefined;
  principal: R["auth"] extends null ? undefined : Principal;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** What a handler returns: the response body, except for streams, which the handler writes. */
type HandlerResult<R extends RouteDef> = R["response"] extends { events: object }
  ? unknown
  : z.input<R["response"]["schema"]>;

export type RouteHandler<R extends RouteDef> = (
  context: RouteContext<R>,
) => Promise<HandlerResult<R>>;

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Parses one part of a request with its contract schema; VALIDATION_FAILED lists every failing field. */
export function parsePart<S extends z.ZodType | undefined>(
  schema: S,
  value: unknown,
  where: FieldError["in"],
): Out<S> {
  if (!schema) return undefined as Out<S>;
  const result = schema.safeParse(value);
  if (!result.success) {
    const errors = zodFieldErrors(where, result.error);
    const first = errors[0];
    throw new AppError("VALIDATION_FAILED", {
      detail: first
        ? `Invalid ${where}${first.field ? ` field \`${first.field}\`` : ""}: ${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""}.`
        : `Invalid ${where}.`,
      errors,
    });
  }
  return result.data as Out<S>;
}

/** Converts `/v1/jobs/{job_id}` to Fastify's `/v1/jobs/:job_id`. */
export function fastifyPath(path: string): string {
  return path.replace(/\{([a-z_]+)\}/g, ":$1");
}

/** What every route needs besides its handler. */
export interface RouteSetup {
  keys: KeyCache;
  /**
   * Check every response against the contract's schema, and that the schema keeps all of it
   * (tests do; a mismatch is a 500). Production sends what the handlers built, unchecked.
   */
  validateResponses: boolean;
}

/** Throws unless `result` is exactly what the response schema describes: nothing missing, wrong or extra. */
function checkResponse(def: RouteDef, result: unknown): void {
  const output = def.response.schema.safeParse(result);
  const wire = JSON.parse(JSON.stringify(result ?? null));
  if (!output.success || !isDeepStrictEqual(JSON.parse(JSON.stringify(output.data)), wire)) {
    throw new Error(`response of ${def.method} ${def.path} breaks the contract`, {
      cause: output.success ? new Error("fields outside the schema") : output.error,
    });
  }
}

/**
 * Registers a contract route: authenticates (before the body is read), checks the role,
 * parses path, query, headers and body with the contract's schemas, runs the handler and
 * sends its result (checked against the response schema when `validateResponses`).
 */
export function registerRoute<R extends RouteDef>(
  app: FastifyInstance,
  setup: RouteSetup,
  def: R,
  handler: RouteHandler<R>,
  options: { uploads?: UploadLimits } = {},
): void {
  const uploads = options.uploads;
  if (def.multipart && !uploads)
    throw new Error(`${def.path} takes multipart: give its upload limits`);
  app.route({
    method: def.method,
    url: fastifyPath(def.path),
    onRequest: def.auth
      ? async (request) => {
          const principal = await authenticate(setup.keys, extractKey(request));
          if (principal.role !== def.auth) {
            throw new AppError("FORBIDDEN", {
              detail: `This route needs a ${def.auth} key; this key belongs to a ${principal.role}.`,
            });
          }
          request.principal = principal;
        }
      : undefined,
    handler: async (request, reply) => {
      const multipart = request.isMultipart();
      if (multipart && !def.multipart) {
        throw new AppError("UNSUPPORTED_MEDIA_TYPE", {
          detail: `${def.method} ${def.path} takes application/json, not multipart/form-data.`,
        });
      }
      const rawBody = request.body === undefined && def.bodyOptional ? {} : request.body;
      const context = {
        params: parsePart(def.params, request.params, "path"),
        query: parsePart(def.query, request.query, "query"),
        headers: parsePart(def.headers, request.headers, "header"),
        body: multipart ? undefined : parsePart(def.body, rawBody, "body"),
        upload:
          multipart && uploads
            ? contractUpload(
                request,
                def,
                uploads,
                (raw) => parsePart(def.body, raw, "body"),
                clientGone(reply),
              )
            : undefined,
        principal: request.principal,
        request,
        reply,
      } as RouteContext<R>;
      const result = await handler(context);
      if (reply.sent || def.response.binary || def.response.events) return reply;
      if (setup.validateResponses) checkResponse(def, result);
      return reply
        .code(reply.statusCode === 200 ? def.response.status : reply.statusCode)
        .send(result);
    },
  });
}
