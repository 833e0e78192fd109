import type { Readable } from "node:stream";

/** A short-lived URL a client downloads an object from. */
export interface DownloadUrl {
  url: string;
  expiresAt: Date;
}

export interface DownloadUrlOptions {
  /** File name offered to the client (`Content-Disposition: attachment`). */
  filename: string;
  contentType: string;
  ttlSeconds: number;
}

/**
 * Object storage: a local directory or an S3-compatible bucket. Keys are `/`-separated paths
 * that the API builds itself from validated parts (see files/names.ts); drivers still refuse
 * any key that could leave their root.
 */
export interface ObjectStore {
  readonly kind: "local" | "s3";
  /** Creates the directory or bucket when missing. */
  ensureReady(): Promise<void>;
  /**
   * Streams `body` into `key`. The object appears only when the stream ended cleanly: when
   * the stream fails or `signal` aborts, the call rejects and nothing is left under `key`.
   */
  put(
    key: string,
    body: Readable,
    options: { contentType: string; signal?: AbortSignal },
  ): Promise<void>;
  /** Deletes objects; missing ones are ignored. */
  delete(keys: string[]): Promise<void>;
  /** A fresh signed URL for downloading the object. */
  downloadUrl(key: string, options: DownloadUrlOptions): Promise<DownloadUrl>;
  /**
   * Local store only: resolves a download token minted by `downloadUrl` (the API serves
   * those URLs itself). S3 URLs point at the bucket and never come back here.
   */
  openDownload?(token: string): Promise<SignedDownload>;
}

/** The file behind a download token, or why there is none. */
export type SignedDownload =
  | { ok: true; stream: Readable; size: number; filename: string; contentType: string }
  | { ok: false; reason: "invalid" | "expired" | "missing" };

/** True for a key made of non-empty segments without `.`/`..`, backslashes, NUL or a leading `/`. */
export function isSafeKey(key: string): boolean {
  if (key.length === 0 || key.length > 2048 || key.startsWith("/") || /[\\\0]/.test(key))
    return false;
  return key.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

/** `Content-Disposition: attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266). */
export function attachmentDisposition(filename: string): string {
  const base = filename.split("/").pop() || "download";
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}
