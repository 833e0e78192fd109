import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { attachmentDisposition, isSafeKey, type ObjectStore } from "./types.ts";

export interface S3StoreOptions {
  /** The address the API reaches the S3 service at (unset: AWS). */
  endpoint?: string | undefined;
  /** The address clients reach it at; download URLs are signed for it (default: endpoint). */
  publicEndpoint?: string | undefined;
  bucket: string;
  region: string;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  forcePathStyle: boolean;
  /** Create the bucket at start when it is missing. */
  createBucket: boolean;
  /** Multipart part size in bytes (memory per upload ≈ partSize × queueSize). */
  partSize?: number;
}

/** Objects in an S3-compatible bucket (AWS S3, MinIO, …), uploaded as streamed multipart uploads. */
export function openS3Store(options: S3StoreOptions): ObjectStore {
  const clientFor = (endpoint: string | undefined) =>
    new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(endpoint ? { endpoint } : {}),
      ...(options.accessKeyId && options.secretAccessKey
        ? {
            credentials: {
              accessKeyId: options.accessKeyId,
              secretAccessKey: options.secretAccessKey,
            },
          }
        : {}),
    });
  const client = clientFor(options.endpoint);
  // Presigning is local computation: a client configured with the public address signs URLs
  // that are valid there. A signed URL is never rewritten afterwards.
  const presigner = clientFor(options.publicEndpoint ?? options.endpoint);
  const Bucket = options.bucket;
  const check = (key: string) => {
    if (!isSafeKey(key)) throw new Error(`unsafe object key ${JSON.stringify(key)}`);
  };

  return {
    kind: "s3",
    async ensureReady() {
      try {
        await client.send(new HeadBucketCommand({ Bucket }));
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
          ?.httpStatusCode;
        if (status !== 404 || !options.createBucket) throw error;
        await client.send(new CreateBucketCommand({ Bucket }));
      }
    },
    async put(key, body, { contentType, signal }) {
      check(key);
      const upload = new Upload({
        client,
        params: { Bucket, Key: key, Body: body, ContentType: contentType },
        partSize: options.partSize ?? 8 * 1024 * 1024,
        queueSize: 2,
        leavePartsOnError: false,
      });
      // Failing the source (rather than aborting the upload) lets lib-storage finish or abort
      // its own requests before done() settles, so nothing lands after put() has given up.
      let sourceError: unknown;
      body.once("error", (error) => {
        sourceError ??= error;
      });
      const stop = () => body.destroy(signal?.reason ?? new Error("aborted"));
      if (signal?.aborted) stop();
      signal?.addEventListener("abort", stop, { once: true });
      try {
        await upload.done();
      } catch (error) {
        await this.delete([key]).catch(() => undefined);
        throw sourceError ?? error;
      } finally {
        signal?.removeEventListener("abort", stop);
      }
      if (sourceError !== undefined || signal?.aborted) {
        await this.delete([key]);
        throw sourceError ?? signal?.reason ?? new Error("aborted");
      }
    },
    async delete(keys) {
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        batch.forEach(check);
        if (batch.length === 0) continue;
        const result = await client.send(
          new DeleteObjectsCommand({
            Bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const failed = (result.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
        if (failed.length > 0) {
          throw new Error(
            `could not delete ${failed.length} objects: ${failed[0]?.Code} ${failed[0]?.Message}`,
          );
        }
      }
    },
    async downloadUrl(key, { filename, contentType, ttlSeconds }) {
      check(key);
      const url = await getSignedUrl(
        presigner,
        new GetObjectCommand({
          Bucket,
          Key: key,
          ResponseContentDisposition: attachmentDisposition(filename),
          ResponseContentType: contentType,
        }),
        { expiresIn: ttlSeconds },
      );
      return { url, expiresAt: new Date(Date.now() + ttlSeconds * 1000) };
    },
  };
}
