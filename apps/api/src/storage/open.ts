import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openLocalStore } from "./local.ts";
import { openS3Store, type S3StoreOptions } from "./s3.ts";
import type { ObjectStore } from "./types.ts";

export interface StoreConfig {
  /** S3 settings; without them files live under `<dataDir>/files`. */
  s3?: S3StoreOptions | undefined;
  dataDir: string;
  publicUrl: string | (() => string);
  /** HMAC secret of local download URLs; generated once into the data dir when not given. */
  secret?: string | undefined;
}

/** The local store's signing secret: the configured one, or one generated once per data dir. */
export function localSecret(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const file = join(dataDir, "file-url-secret");
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (existing.length >= 32) return existing;
  } catch {
    // First use: make one.
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Opens the configured object store and makes sure its bucket or directory exists. */
export async function openStore(config: StoreConfig): Promise<ObjectStore> {
  const store = config.s3
    ? openS3Store(config.s3)
    : openLocalStore({
        root: join(config.dataDir, "files"),
        publicUrl: config.publicUrl,
        secret: localSecret(config.dataDir, config.secret),
      });
  await store.ensureReady();
  return store;
}
