import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3StoreOptions } from "../src/storage/s3.ts";

/** An S3-compatible server started for tests. */
export interface S3Server {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  stop(): Promise<void>;
}

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

// s3rver ships no type declarations: load it through require with the little we use.
const S3rver = createRequire(import.meta.url)("s3rver") as new (options: {
  port: number;
  address: string;
  silent: boolean;
  directory: string;
  configureBuckets: unknown[];
}) => S3rverInstance;

/**
 * s3rver in-process on a random loopback port, storing under a temporary directory removed on
 * stop. It checks presigned-URL expiry but not signatures, and accepts small multipart parts.
 */
export async function startS3rver(): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), "agnt-s3rver-"));
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [],
  });
  let address: { port: number };
  try {
    address = await server.run();
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** A port free on 127.0.0.1 right now (for servers that cannot be told to pick one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}

/** Resolves once the process has exited (at once when it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Python moto's `moto_server` on a random loopback port, or undefined when it is not installed
 * (not on PATH, or a shim that has no such command). Closer to AWS than s3rver (multipart parts
 * must be at least 5 MiB except the last) but does not check presigned-URL expiry.
 */
export async function startMoto(): Promise<S3Server | undefined> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      stderr = (stderr + text).slice(-4000);
    });
    const ended = new Promise<{ error: NodeJS.ErrnoException } | { exit: number | null }>(
      (resolve) => {
        child.once("error", (error) => resolve({ error }));
        child.once("exit", (exit) => resolve({ exit }));
      },
    );
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited(child);
        clearTimeout(timer);
      }
    };

    const deadline = Date.now() + 30_000;
    let failure: string | undefined;
    for (;;) {
      const outcome = await Promise.race([
        ended,
        fetch(endpoint, { signal: AbortSignal.timeout(1000) }).then(
          () => ({ ready: true }),
          () => new Promise<{ retry: true }>((r) => setTimeout(() => r({ retry: true }), 100)),
        ),
      ]);
      if ("ready" in outcome) return { endpoint, stop };
      if ("error" in outcome) {
        if (outcome.error.code === "ENOENT") return undefined;
        throw outcome.error;
      }
      if ("exit" in outcome) {
        // 127: a pyenv/asdf shim without moto in the active Python, i.e. not installed.
        if (outcome.exit === 127) return undefined;
        failure = `moto_server exited with ${outcome.exit}: ${stderr}`;
        break;
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr}`);
      }
    }
    // Most likely the port was taken between probing and binding: try another one.
    if (attempt === 3) throw new Error(failure);
  }
}

let bucketCounter = 0;

/**
 * Complete S3 store options for tests against `endpoint`: a bucket name no other call returns,
 * created by ensureReady, 5 MiB parts. The access key is s3rver's built-in one (moto takes any).
 */
export function s3StoreOptions(
  endpoint: string,
  overrides: Partial<S3StoreOptions> = {},
): S3StoreOptions {
  bucketCounter += 1;
  return {
    endpoint,
    bucket: `agnt-test-${process.pid}-${bucketCounter}-${randomBytes(4).toString("hex")}`,
    region: "us-east-1",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    forcePathStyle: true,
    createBucket: true,
    partSize: 5 * 1024 * 1024,
    ...overrides,
  };
}
