import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { createToken, verifyToken } from "./signed-token.ts";
import { isSafeKey, type ObjectStore } from "./types.ts";

export interface LocalStoreOptions {
  /** Directory holding the objects (`AGNT_DATA_DIR/files`). */
  root: string;
  /** Base URL clients reach the API at; download URLs are `<publicUrl>/v1/files/<token>`. */
  publicUrl: string | (() => string);
  /** HMAC secret of download tokens. */
  secret: string;
  /** Clock (Unix ms), for tests. */
  now?: () => number;
}

/**
 * Objects as files under one directory. A write goes to `.tmp/` first and is renamed into place
 * once complete, so a failed or aborted upload leaves no object behind.
 */
export function openLocalStore(options: LocalStoreOptions): ObjectStore {
  const root = resolve(options.root);
  const tmp = join(root, ".tmp");
  const now = options.now ?? Date.now;
  const baseUrl =
    typeof options.publicUrl === "string" ? () => options.publicUrl as string : options.publicUrl;

  const pathOf = (key: string): string => {
    const path = resolve(root, key);
    if (!isSafeKey(key) || key.startsWith(".tmp/") || !path.startsWith(root + sep)) {
      throw new Error(`unsafe object key ${JSON.stringify(key)}`);
    }
    return path;
  };

  return {
    kind: "local",
    async ensureReady() {
      await mkdir(tmp, { recursive: true });
    },
    async put(key, body, { signal }) {
      const target = pathOf(key);
      const part = join(tmp, randomUUID());
      await mkdir(tmp, { recursive: true });
      try {
        await pipeline(body, createWriteStream(part, { flags: "wx" }), signal ? { signal } : {});
        // A concurrent delete may remove the (empty) directory between mkdir and rename.
        for (let attempt = 1; ; attempt++) {
          await mkdir(dirname(target), { recursive: true });
          try {
            await rename(part, target);
            break;
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt === 5) throw error;
          }
        }
      } catch (error) {
        await rm(part, { force: true });
        throw error;
      }
    },
    async delete(keys) {
      for (const key of keys) {
        const path = pathOf(key);
        await rm(path, { force: true });
        // Remove directories the deletion emptied, up to the root.
        let dir = dirname(path);
        while (dir.startsWith(root + sep)) {
          try {
            if ((await readdir(dir)).length > 0) break;
            await rm(dir, { recursive: false, force: true });
          } catch {
            break;
          }
          dir = dirname(dir);
        }
      }
    },
    async downloadUrl(key, { filename, contentType, ttlSeconds }) {
      pathOf(key);
      const expires = Math.floor(now() / 1000) + ttlSeconds;
      const token = createToken(options.secret, { key, expires, filename, contentType });
      return {
        url: `${baseUrl().replace(/\/+$/, "")}/v1/files/${token}`,
        expiresAt: new Date(expires * 1000),
      };
    },
    async openDownload(token) {
      const check = verifyToken(options.secret, token, Math.floor(now() / 1000));
      if (!check.ok) return check;
      const { key, filename, contentType } = check.claims;
      try {
        const path = pathOf(key);
        const info = await stat(path);
        return { ok: true, stream: createReadStream(path), size: info.size, filename, contentType };
      } catch {
        return { ok: false, reason: "missing" };
      }
    },
  };
}
