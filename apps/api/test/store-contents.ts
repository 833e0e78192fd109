import type { Dirent } from "node:fs";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { S3StoreOptions } from "../src/storage/s3.ts";

/**
 * What an object store holds, read behind its back: tests check what was stored (and that a
 * refused upload left nothing), without the API needing reads or listings of its own.
 */
export interface StoreContents {
  /** An object's bytes; rejects when it does not exist. */
  get(key: string): Promise<Readable>;
  /** Every key under a prefix, sorted (the local store's `.tmp/` area excluded). */
  list(prefix: string): Promise<string[]>;
}

/** The contents of a local store rooted at `root`. */
export function localContents(root: string): StoreContents {
  const base = resolve(root);
  const tmp = join(base, ".tmp");
  return {
    async get(key) {
      const path = join(base, ...key.split("/"));
      await stat(path);
      return createReadStream(path);
    },
    async list(prefix) {
      const keys: string[] = [];
      const walk = async (dir: string): Promise<void> => {
        let entries: Dirent[];
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch {
          return;
        }
        for (const entry of entries) {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) {
            if (path !== tmp) await walk(path);
          } else {
            const key = relative(base, path).split(sep).join("/");
            if (key.startsWith(prefix)) keys.push(key);
          }
        }
      };
      await walk(base);
      return keys.sort();
    },
  };
}

/** Files left in a local store's temporary area (uploads in flight, or leaked ones). */
export async function localPendingWrites(root: string): Promise<number> {
  try {
    return (await readdir(join(resolve(root), ".tmp"))).length;
  } catch {
    return 0;
  }
}

/** The contents of the bucket an S3 store uses, through a client of its own. */
export function s3Contents(options: S3StoreOptions): StoreContents {
  const client = new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.accessKeyId && options.secretAccessKey
      ? {
          credentials: {
            accessKeyId: options.accessKeyId,
            secretAccessKey: options.secretAccessKey,
          },
        }
      : {}),
  });
  const Bucket = options.bucket;
  return {
    async get(key) {
      const response = await client.send(new GetObjectCommand({ Bucket, Key: key }));
      return response.Body as Readable;
    },
    async list(prefix) {
      const keys: string[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket,
            Prefix: prefix,
            ...(ContinuationToken ? { ContinuationToken } : {}),
          }),
        );
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return keys.sort();
    },
  };
}
