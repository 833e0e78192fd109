import type { DownloadableFile } from "@agnt/contract";
import type { Queryable } from "../db/types.ts";
import type { Log } from "../log.ts";
import type { ObjectStore } from "../storage/types.ts";
import * as sql from "./sql.ts";
import type { StoredFile, UploadLimits } from "./upload.ts";

export interface FilesDeps {
  store: ObjectStore;
  /** Lifetime of download URLs. */
  urlTtlSeconds: number;
  limits: UploadLimits;
  log: Log;
}

/** Manifest rows with freshly minted download URLs (none for expired files). */
async function withUrls(deps: FilesDeps, rows: sql.FileRow[]): Promise<DownloadableFile[]> {
  return Promise.all(
    rows.map(async (row) => {
      const link = row.expired_at
        ? undefined
        : await deps.store.downloadUrl(row.storage_key, {
            filename: row.path,
            contentType: row.mime_type,
            ttlSeconds: deps.urlTtlSeconds,
          });
      return {
        path: row.path,
        size_bytes: row.size_bytes,
        mime_type: row.mime_type,
        sha256: row.sha256,
        download_url: link?.url ?? null,
        expires_at: link ? link.expiresAt.toISOString() : null,
        expired_at: row.expired_at ? row.expired_at.toISOString() : null,
      };
    }),
  );
}

/** A completed job's result files with download URLs. */
export async function resultFiles(
  db: Queryable,
  deps: FilesDeps,
  jobId: string,
): Promise<DownloadableFile[]> {
  return withUrls(deps, await sql.listResultFiles(db, jobId));
}

/** A job's input files with download URLs. */
export async function inputFiles(
  db: Queryable,
  deps: FilesDeps,
  jobId: string,
): Promise<DownloadableFile[]> {
  return withUrls(deps, await sql.listInputFiles(db, jobId));
}

/** Records the result manifest of a job being completed (inside its transaction). */
export function recordResultFiles(
  tx: Queryable,
  jobId: string,
  files: StoredFile[],
): Promise<void> {
  return sql.insertResultFiles(tx, jobId, files);
}

/** Records the input manifest of a job being created (inside its transaction). */
export function recordInputFiles(tx: Queryable, jobId: string, files: StoredFile[]): Promise<void> {
  return sql.insertInputFiles(tx, jobId, files);
}

/**
 * Retention: deletes stored files older than `days` (results, and inputs of finished jobs)
 * from the store, then marks them expired in their manifests. Returns how many.
 */
export async function expireOldFiles(
  db: Queryable,
  store: ObjectStore,
  days: number,
): Promise<number> {
  let expired = 0;
  for (const table of ["job_results", "job_inputs"] as const) {
    for (;;) {
      const batch = await sql.findExpiringFiles(db, table, days, 500);
      if (batch.length === 0) break;
      await store.delete(batch.map((file) => file.storage_key));
      await sql.markExpired(db, table, batch);
      expired += batch.length;
    }
  }
  return expired;
}
