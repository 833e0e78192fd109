import { routes } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import { AppError } from "../http/problem.ts";
import { type RouteSetup, registerRoute } from "../http/route.ts";
import { attachmentDisposition, type ObjectStore } from "../storage/types.ts";

/**
 * Downloads through signed URLs of the local file store. The token is the credential; the
 * file is sent as an attachment so a browser never renders it.
 */
export function fileRoutes(
  app: FastifyInstance,
  deps: { http: RouteSetup; store: ObjectStore },
): void {
  registerRoute(app, deps.http, routes.downloadFile, async ({ params, reply }) => {
    if (!deps.store.openDownload) {
      throw new AppError("NOT_FOUND", {
        detail: "Downloads are served by the object store, not by the API.",
      });
    }
    const download = await deps.store.openDownload(params.token);
    if (!download.ok) {
      if (download.reason === "expired") {
        throw new AppError("DOWNLOAD_URL_EXPIRED", {
          detail: "This download URL has expired; ask for a fresh one.",
        });
      }
      if (download.reason === "missing") {
        throw new AppError("FILE_NOT_FOUND", { detail: "The file no longer exists." });
      }
      throw new AppError("DOWNLOAD_URL_INVALID", { detail: "This download URL is not valid." });
    }
    return reply
      .header("content-type", download.contentType)
      .header("content-length", String(download.size))
      .header("content-disposition", attachmentDisposition(download.filename))
      .header("x-content-type-options", "nosniff")
      .header("cache-control", "private, no-store")
      .send(download.stream);
  });
}
