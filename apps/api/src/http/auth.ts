import type { FastifyRequest } from "fastify";
import { AppError } from "./problem.ts";

/**
 * The API key sent with a request: `Authorization: Bearer <key>`, else `X-API-Key: <key>`.
 * An Authorization header in another scheme is refused rather than ignored.
 */
export function extractKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match) {
      throw new AppError("UNAUTHENTICATED", {
        detail: "The Authorization header must be `Bearer <key>`.",
      });
    }
    return match[1];
  }
  const header = request.headers["x-api-key"];
  if (Array.isArray(header)) {
    throw new AppError("UNAUTHENTICATED", { detail: "Send one X-API-Key header." });
  }
  return header === undefined ? undefined : header.trim();
}
