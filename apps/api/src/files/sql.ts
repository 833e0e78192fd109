import { TERMINAL_STATUSES } from "@agnt/contract";
import { litList } from "../db/sql-literals.ts";
import type { Queryable } from "../db/types.ts";
import type { StoredFile } from "./upload.ts";

export type FileTable = "job_results" | "job_inputs";

export interface FileRow {
  job_id: string;
  path: string;
  size_bytes: number;
  mime_type: string;
  sha256: string;
  storage_key: string;
  expired_at: Date | null;
}

const FILE_COLUMNS =
  "job_id, path, size_bytes::float8 AS size_bytes, mime_type, sha256, storage_key, expired_at";

function insertInto(table: FileTable) {
  return async (db: Queryable, jobId: string, files: StoredFile[]): Promise<void> => {
    if (files.length === 0) return;
    await db.query(
      `INSERT INTO ${table} (job_id, path, size_bytes, mime_type, sha256, storage_key)
       SELECT $1, f.path, f.size_bytes, f.mime_type, f.sha256, f.storage_key
       FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
         AS f (path, size_bytes, mime_type, sha256, storage_key)`,
      [
        jobId,
        files.map((f) => f.path),
        files.map((f) => f.sizeBytes),
        files.map((f) => f.mimeType),
        files.map((f) => f.sha256),
        files.map((f) => f.storageKey),
      ],
    );
  };
}

/** Records a completed job's result files. */
export const insertResultFiles = insertInto("job_results");
/** Records the input files of a new job. */
export const insertInputFiles = insertInto("job_inputs");

function listFrom(table: FileTable) {
  return async (db: Queryable, jobId: string): Promise<FileRow[]> => {
    const { rows } = await db.query<FileRow>(
      `SELECT ${FILE_COLUMNS} FROM ${table} WHERE job_id = $1 ORDER BY path`,
      [jobId],
      { prepare: true },
    );
    return rows;
  };
}

export const listResultFiles = listFrom("job_results");
export const listInputFiles = listFrom("job_inputs");

/**
 * Up to `limit` stored files older than `days` that retention should delete: every result
 * file, and input files of jobs that are finished.
 */
export async function findExpiringFiles(
  db: Queryable,
  table: FileTable,
  days: number,
  limit: number,
): Promise<FileRow[]> {
  const finishedOnly =
    table === "job_inputs"
      ? `AND EXISTS (SELECT 1 FROM jobs j WHERE j.job_id = f.job_id AND j.status IN (${litList(TERMINAL_STATUSES)}))`
      : "";
  const { rows } = await db.query<FileRow>(
    `SELECT f.job_id, f.path, f.size_bytes::float8 AS size_bytes, f.mime_type, f.sha256,
            f.storage_key, f.expired_at
     FROM ${table} f
     WHERE f.expired_at IS NULL AND f.created_at < now() - make_interval(days => $1) ${finishedOnly}
     ORDER BY f.created_at
     LIMIT $2`,
    [days, limit],
  );
  return rows;
}

/** Marks files as deleted by retention. */
export async function markExpired(
  db: Queryable,
  table: FileTable,
  files: FileRow[],
): Promise<void> {
  await db.query(
    `UPDATE ${table} SET expired_at = now()
     WHERE (job_id, path) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
    [files.map((f) => f.job_id), files.map((f) => f.path)],
  );
}
