import { type FastifyReply, type FastifyRequest, LogController } from "fastify";

/**
 * Fastify's request logging, one line per request instead of two: nothing when a request
 * arrives; once it is answered, `request` with method, path and query, status and time, under
 * the request id Fastify binds to the request's logger (`error` level when the reply failed).
 * Keys never appear: they travel in headers, which are not logged. Fastify's other lines
 * (errors, route not found) are unchanged.
 */
export class AccessLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const line = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) reply.log.error({ ...line, err: error }, "request");
    else reply.log.info(line, "request");
  }
}
