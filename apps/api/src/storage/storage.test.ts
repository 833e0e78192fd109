import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import {
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { sleep } from "../../test/expect.ts";
import { type S3Server, s3StoreOptions, startMoto, startS3rver } from "../../test/s3-servers.ts";
import {
  localContents,
  localPendingWrites,
  type StoreContents,
  s3Contents,
} from "../../test/store-contents.ts";
import { openLocalStore } from "./local.ts";
import { openS3Store, type S3StoreOptions } from "./s3.ts";
import { verifyToken } from "./signed-token.ts";
import { attachmentDisposition, type ObjectStore } from "./types.ts";

const MiB = 1024 * 1024;
const PUBLIC_URL = "https://api.agnt.test";

/**
 * What a download URL served: the bytes, the offered file name and the content type (undefined
 * where the server ignores the response header overrides of presigned URLs).
 */
interface Download {
  bytes: Buffer;
  filename: string | undefined;
  contentType: string | undefined;
}

/** One store of a driver, fresh and empty (its directory or bucket not created yet). */
interface Opened {
  store: ObjectStore;
  /** What the store holds, read behind its back. */
  contents: StoreContents;
  /** The local store's token secret. */
  secret?: string;
  /** The S3 store's options. */
  options?: S3StoreOptions;
  /** Whether the directory or bucket exists. */
  exists(): Promise<boolean>;
  /**
   * Incomplete writes left behind (files in `.tmp/`, multipart uploads in progress), or
   * undefined where the server cannot tell (s3rver implements neither listing nor aborting
   * multipart uploads).
   */
  pendingWrites(): Promise<number | undefined>;
  /** Downloads through a URL from downloadUrl: over HTTP for S3, token check + get locally. */
  download(url: string): Promise<Download>;
}

interface OpenOptions {
  /** Local store clock. */
  now?: () => number;
  /** S3 store options. */
  s3?: Partial<S3StoreOptions>;
  /** Reach the S3 server through the harness's holding proxy. */
  viaProxy?: boolean;
}

interface Harness {
  open(options?: OpenOptions): Promise<Opened>;
  /** The S3 server (S3 drivers). */
  endpoint?: string;
  /** A proxy in front of the S3 server (S3 drivers). */
  proxy?: HoldingProxy;
  stop(): Promise<void>;
}

/** A request as the holding proxy sees it. */
interface ProxiedRequest {
  method: string;
  /** Path segments: bucket, then the key's. */
  segments: string[];
  query: URLSearchParams;
}

/**
 * A loopback HTTP proxy in front of an S3 server, which can hold requests for a while before
 * passing them on: it makes "a request of the upload is still in flight" deterministic.
 */
interface HoldingProxy {
  endpoint: string;
  /** How long to hold each request before passing it on (ms), decided as it arrives. */
  hold: ((request: ProxiedRequest) => number) | undefined;
  /** Requests received whose response has not been sent completely. */
  inFlight(): number;
  stop(): Promise<void>;
}

async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  const upstream = new URL(target);
  let inFlight = 0;
  const server = createServer((req, res) => {
    inFlight += 1;
    res.once("close", () => {
      inFlight -= 1;
    });
    const url = new URL(req.url ?? "/", "http://proxy");
    const delay =
      proxy.hold?.({
        method: req.method ?? "GET",
        segments: url.pathname.split("/").filter(Boolean),
        query: url.searchParams,
      }) ?? 0;
    setTimeout(() => {
      const forward = request(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.once("error", () => res.destroy());
      req.pipe(forward);
    }, delay);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy: HoldingProxy = {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: undefined,
    inFlight: () => inFlight,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return proxy;
}

/** PutObject (not a part, not a copy, not a bucket). */
const isPutObject = (r: ProxiedRequest) =>
  r.method === "PUT" && r.segments.length >= 2 && !r.query.has("uploadId");
const isUploadPart = (r: ProxiedRequest) => r.method === "PUT" && r.query.has("uploadId");
const isCompleteMultipartUpload = (r: ProxiedRequest) =>
  r.method === "POST" && r.query.has("uploadId");

interface Driver {
  name: "local" | "s3rver" | "moto";
  kind: "local" | "s3";
  /** Whether expired download URLs are refused (moto does not check). */
  checksExpiry: boolean;
  /**
   * Whether presigned GETs apply `response-content-disposition`/`-type` (moto 5 ignores them:
   * the download serves the object's own headers).
   */
  overridesResponseHeaders: boolean;
  /**
   * Whether listings longer than 1000 keys work (s3rver's continuation tokens use DES, which
   * OpenSSL 3 refuses: the second page fails with InternalError).
   */
  pagesListings: boolean;
  /** Undefined when the driver's server is not installed. */
  start(): Promise<Harness | undefined>;
}

function localDriver(): Driver {
  return {
    name: "local",
    kind: "local",
    checksExpiry: true,
    overridesResponseHeaders: true,
    pagesListings: true,
    async start() {
      const base = await mkdtemp(join(tmpdir(), "agnt-storage-"));
      let count = 0;
      return {
        async open({ now } = {}) {
          count += 1;
          const root = join(base, `store-${count}`, "files");
          const secret = randomBytes(32).toString("base64url");
          // A trailing slash, which download URLs must not double.
          const store = openLocalStore({ root, publicUrl: `${PUBLIC_URL}/`, secret, now });
          return {
            store,
            secret,
            exists: () =>
              stat(root).then(
                (s) => s.isDirectory(),
                () => false,
              ),
            contents: localContents(root),
            pendingWrites: () => localPendingWrites(root),
            async download(url) {
              const parsed = new URL(url);
              expect(parsed.origin).toBe(PUBLIC_URL);
              const match = /^\/v1\/files\/([^/]+)$/.exec(parsed.pathname);
              if (!match?.[1]) throw new Error(`not a local download URL: ${url}`);
              const check = verifyToken(secret, match[1], Math.floor(Date.now() / 1000));
              if (!check.ok) throw new Error(`download token refused: ${check.reason}`);
              return {
                bytes: await buffer(await localContents(root).get(check.claims.key)),
                filename: check.claims.filename,
                contentType: check.claims.contentType,
              };
            },
          };
        },
        stop: () => rm(base, { recursive: true, force: true }),
      };
    },
  };
}

/** The file name a `Content-Disposition: attachment` offers, preferring `filename*`. */
function dispositionFilename(header: string): string | undefined {
  const extended = /filename\*=UTF-8''([^;\s]+)/i.exec(header);
  if (extended?.[1]) return decodeURIComponent(extended[1]);
  return /filename="([^"]*)"/i.exec(header)?.[1];
}

function s3Driver(name: "s3rver" | "moto", start: () => Promise<S3Server | undefined>): Driver {
  const overrides = name !== "moto";
  return {
    name,
    kind: "s3",
    checksExpiry: name === "s3rver",
    overridesResponseHeaders: overrides,
    pagesListings: name !== "s3rver",
    async start() {
      const server = await start();
      if (!server) return undefined;
      const { endpoint } = server;
      const proxy = await startHoldingProxy(endpoint);
      const client = new S3Client({
        endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      });
      return {
        endpoint,
        proxy,
        async open({ s3, viaProxy } = {}) {
          const options = s3StoreOptions(viaProxy ? proxy.endpoint : endpoint, s3);
          const Bucket = options.bucket;
          return {
            store: openS3Store(options),
            contents: s3Contents({ ...options, endpoint }),
            options,
            exists: () =>
              client.send(new HeadBucketCommand({ Bucket })).then(
                () => true,
                (error) => {
                  if (error?.$metadata?.httpStatusCode === 404) return false;
                  throw error;
                },
              ),
            async pendingWrites() {
              if (name !== "moto") return undefined;
              const page = await client.send(new ListMultipartUploadsCommand({ Bucket }));
              return page.Uploads?.length ?? 0;
            },
            async download(url) {
              const res = await fetch(url);
              const bytes = Buffer.from(await res.arrayBuffer());
              if (res.status !== 200) {
                throw new Error(`GET ${url} answered ${res.status}: ${bytes.toString()}`);
              }
              if (!overrides) return { bytes, filename: undefined, contentType: undefined };
              const disposition = res.headers.get("content-disposition") ?? "";
              expect(disposition).toMatch(/^attachment\s*;/i);
              return {
                bytes,
                filename: dispositionFilename(disposition),
                contentType: res.headers.get("content-type") ?? undefined,
              };
            },
          };
        },
        async stop() {
          client.destroy();
          await proxy.stop();
          await server.stop();
        },
      };
    },
  };
}

const drivers: Driver[] = [
  localDriver(),
  s3Driver("s3rver", startS3rver),
  s3Driver("moto", startMoto),
];

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * `size` random bytes made on the fly, 64 KiB at a time, like a request body arriving. Once
 * `pause.at` bytes are out it waits for `pause.until`; it fails with "client went away" once
 * `failAfter` bytes are out; it reports each chunk sent.
 */
function generated(
  size: number,
  options: {
    failAfter?: number;
    pause?: { at: number; until: Promise<unknown> };
    onSent?: (sent: number) => void;
  } = {},
): { stream: Readable; sha256(): string } {
  const hash = createHash("sha256");
  async function* chunks() {
    let sent = 0;
    while (sent < size) {
      if (options.pause && sent >= options.pause.at) await options.pause.until;
      if (options.failAfter !== undefined && sent >= options.failAfter) {
        throw new Error("client went away");
      }
      const chunk = randomBytes(Math.min(64 * 1024, size - sent));
      hash.update(chunk);
      sent += chunk.length;
      yield chunk;
      options.onSent?.(sent);
    }
  }
  return {
    stream: Readable.from(chunks(), { objectMode: false }),
    sha256: () => hash.digest("hex"),
  };
}

const text = (value: string | Buffer) => Readable.from([Buffer.from(value)], { objectMode: false });

/** Runs `task` over `items`, at most `limit` at a time. */
async function eachLimit<T>(items: T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** Sleeps until just past the next whole second (signatures and tokens have 1 s resolution). */
const nextSecond = () => sleep(1000 - (Date.now() % 1000) + 20);

/** `X-Amz-Date` (`20240102T030405Z`) as a Date. */
function amzDate(value: string | null): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? "");
  if (!m) throw new Error(`bad X-Amz-Date ${value}`);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

/** Asserts no incomplete upload is left, where the driver can tell. */
async function expectNoPendingWrites(opened: Opened): Promise<void> {
  const pending = await opened.pendingWrites();
  if (pending !== undefined) expect(pending, "incomplete uploads left behind").toBe(0);
}

const UNSAFE_KEYS = ["../x", "/abs", "a//b", "a/./b", "a\\b", "", "a/../b", "a/", "a/.."];

describe("object storage", () => {
  describe.each(drivers.map((driver) => [driver.name, driver] as const))(
    "%s driver",
    (_, driver) => {
      let harness: Harness | undefined;
      let opened: Opened;
      let store: ObjectStore;

      beforeAll(async () => {
        harness = await driver.start();
      });
      afterAll(async () => {
        await harness?.stop();
      });
      beforeEach(async (ctx) => {
        if (!harness) {
          ctx.skip(`${driver.name} is not installed`);
          return;
        }
        if (harness.proxy) harness.proxy.hold = undefined;
        opened = await harness.open();
        store = opened.store;
        await store.ensureReady();
      });

      const open = (options?: OpenOptions) => {
        if (!harness) throw new Error("no harness");
        return harness.open(options);
      };

      // --- ensureReady -------------------------------------------------------------------------

      test("ensureReady creates the directory or bucket, and is idempotent", async () => {
        const fresh = await open();
        expect(await fresh.exists()).toBe(false);
        await fresh.store.ensureReady();
        expect(await fresh.exists()).toBe(true);
        await fresh.store.ensureReady();
        await fresh.store.put("a/b.txt", text("kept"), { contentType: "text/plain" });
        await fresh.store.ensureReady();
        expect(await fresh.exists()).toBe(true);
        expect(await fresh.contents.list("")).toEqual(["a/b.txt"]);
        expect((await buffer(await fresh.contents.get("a/b.txt"))).toString()).toBe("kept");
      });

      test.runIf(driver.kind === "s3")(
        "ensureReady fails on a missing bucket when createBucket is false",
        async () => {
          const fresh = await open({ s3: { createBucket: false } });
          await expect(fresh.store.ensureReady()).rejects.toThrow();
          expect(await fresh.exists()).toBe(false);

          // An existing bucket is fine without createBucket.
          const existing = await open({
            s3: { createBucket: false, bucket: opened.options?.bucket },
          });
          await existing.store.ensureReady();
        },
      );

      // --- put / get ---------------------------------------------------------------------------

      test.each([
        ["an empty object", Buffer.alloc(0)],
        ["a small text", Buffer.from("hello, wörld\n")],
        ["256 random binary bytes", randomBytes(256)],
      ])("put + get round-trips %s exactly", async (_, bytes) => {
        await store.put("in/job-1/input.bin", text(bytes), {
          contentType: "application/octet-stream",
        });
        const read = await buffer(await opened.contents.get("in/job-1/input.bin"));
        expect(read.length).toBe(bytes.length);
        expect(read.equals(bytes)).toBe(true);
        expect(await opened.contents.list("in/")).toEqual(["in/job-1/input.bin"]);
      });

      test("put + get round-trips a 12 MiB stream (multipart with 5 MiB parts)", async () => {
        // S3 stores go through the proxy, which counts the parts.
        const proxy = harness?.proxy;
        const target = proxy ? await open({ viaProxy: true }) : opened;
        await target.store.ensureReady();
        const parts: string[] = [];
        if (proxy) {
          proxy.hold = (r) => {
            if (isUploadPart(r)) parts.push(r.query.get("partNumber") ?? "?");
            return 0;
          };
        }
        const source = generated(12 * MiB);
        await target.store.put("big/result.bin", source.stream, {
          contentType: "application/octet-stream",
        });
        expect(await sha256Of(await target.contents.get("big/result.bin"))).toBe(source.sha256());
        expect(await target.contents.list("big/")).toEqual(["big/result.bin"]);
        // 5 + 5 + 2 MiB.
        if (proxy) expect(parts.sort()).toEqual(["1", "2", "3"]);
      });

      test("put replaces an existing object", async () => {
        await store.put("x/y", text("first version"), { contentType: "text/plain" });
        await store.put("x/y", text("second"), { contentType: "text/plain" });
        expect((await buffer(await opened.contents.get("x/y"))).toString()).toBe("second");
        expect(await opened.contents.list("x/")).toEqual(["x/y"]);
      });

      test("get rejects for a missing object", async () => {
        await expect(opened.contents.get("nope/missing.txt")).rejects.toThrow();
      });

      // --- failed and aborted uploads leave nothing behind -------------------------------------

      test.each([
        ["after 3 MiB (within the first part)", 3 * MiB],
        ["after 7 MiB (a multipart upload under way)", 7 * MiB],
      ])("a source stream failing %s: put rejects and leaves nothing", async (_, failAfter) => {
        const source = generated(12 * MiB, { failAfter });
        await expect(
          store.put("up/job-1/input.bin", source.stream, {
            contentType: "application/octet-stream",
          }),
        ).rejects.toThrow("client went away");
        expect(await opened.contents.list("up/")).toEqual([]);
        // Nothing shows up later either, and no incomplete multipart upload stays.
        await sleep(300);
        expect(await opened.contents.list("")).toEqual([]);
        await expectNoPendingWrites(opened);
        await expect(opened.contents.get("up/job-1/input.bin")).rejects.toThrow();
      });

      test.each([
        ["after 3 MiB (within the first part)", 3 * MiB],
        ["after 7 MiB (a multipart upload under way)", 7 * MiB],
      ])("a signal aborting %s: put rejects and leaves nothing", async (_, abortAt) => {
        const controller = new AbortController();
        const source = generated(12 * MiB, {
          onSent: (sent) => {
            if (sent >= abortAt && !controller.signal.aborted) controller.abort();
          },
        });
        await expect(
          store.put("up/job-2/input.bin", source.stream, {
            contentType: "application/octet-stream",
            signal: controller.signal,
          }),
        ).rejects.toThrow();
        expect(await opened.contents.list("up/")).toEqual([]);
        await sleep(300);
        expect(await opened.contents.list("")).toEqual([]);
        await expectNoPendingWrites(opened);
      });

      test("a signal already aborted: put rejects and leaves nothing", async () => {
        await expect(
          store.put("up/job-3/input.bin", text("never stored"), {
            contentType: "text/plain",
            signal: AbortSignal.abort(),
          }),
        ).rejects.toThrow();
        await sleep(100);
        expect(await opened.contents.list("")).toEqual([]);
      });

      test.runIf(driver.kind === "local")(
        "an abort right after the source ended: stored completely or not at all",
        async () => {
          const controller = new AbortController();
          const source = generated(1 * MiB);
          source.stream.once("end", () => setTimeout(() => controller.abort(), 1));
          const outcome = await store
            .put("up/job-4/input.bin", source.stream, {
              contentType: "application/octet-stream",
              signal: controller.signal,
            })
            .then(
              () => "stored" as const,
              () => "refused" as const,
            );
          await sleep(300);
          if (outcome === "stored") {
            expect(await opened.contents.list("up/")).toEqual(["up/job-4/input.bin"]);
            expect(await sha256Of(await opened.contents.get("up/job-4/input.bin"))).toBe(
              source.sha256(),
            );
          } else {
            expect(
              await opened.contents.list("up/"),
              "put rejected, yet the object exists",
            ).toEqual([]);
          }
          await expectNoPendingWrites(opened);
        },
      );

      // With S3, "nothing left behind" also needs put() to settle only once every request of
      // the upload has: the proxy holds one of them to make that window certain.

      test.runIf(driver.kind === "s3").each([
        ["the source fails", "fail"],
        ["the signal aborts", "abort"],
      ] as const)(
        "%s while a part upload is in flight: put rejects after the upload is undone",
        async (_, mode) => {
          const proxy = harness?.proxy;
          if (!proxy) throw new Error("no proxy");
          const proxied = await open({ viaProxy: true });
          await proxied.store.ensureReady();
          let partSent = () => {};
          const partInFlight = new Promise<void>((resolve) => {
            partSent = resolve;
          });
          proxy.hold = (r) => {
            if (!isUploadPart(r)) return 0;
            partSent();
            return 400;
          };
          const controller = new AbortController();
          // Part 1 (5 MiB) is held at the proxy while part 2 is read: that fails at 7 MiB.
          const source = generated(12 * MiB, {
            pause: { at: 7 * MiB, until: partInFlight },
            ...(mode === "fail" ? { failAfter: 7 * MiB } : {}),
            onSent: (sent) => {
              if (mode === "abort" && sent >= 7 * MiB && !controller.signal.aborted) {
                controller.abort();
              }
            },
          });
          await expect(
            proxied.store.put("up/job-5/input.bin", source.stream, {
              contentType: "application/octet-stream",
              signal: controller.signal,
            }),
          ).rejects.toThrow();
          expect(
            proxy.inFlight(),
            "requests of the upload still in flight after put rejected",
          ).toBe(0);
          await expectNoPendingWrites(proxied);
          expect(await proxied.contents.list("")).toEqual([]);
          await sleep(600);
          expect(await proxied.contents.list("")).toEqual([]);
          await expectNoPendingWrites(proxied);
        },
      );

      test.runIf(driver.kind === "s3").each([
        ["PutObject of a single-part upload", 1 * MiB, isPutObject],
        ["CompleteMultipartUpload", 7 * MiB, isCompleteMultipartUpload],
      ])(
        "an abort while %s is in flight: stored completely or not at all",
        async (_, size, last) => {
          const proxy = harness?.proxy;
          if (!proxy) throw new Error("no proxy");
          const proxied = await open({ viaProxy: true });
          await proxied.store.ensureReady();
          const controller = new AbortController();
          proxy.hold = (r) => {
            if (!last(r)) return 0;
            controller.abort();
            return 300;
          };
          const source = generated(size);
          const outcome = await proxied.store
            .put("up/job-6/input.bin", source.stream, {
              contentType: "application/octet-stream",
              signal: controller.signal,
            })
            .then(
              () => "stored" as const,
              () => "refused" as const,
            );
          expect(controller.signal.aborted).toBe(true);
          expect(
            proxy.inFlight(),
            `requests of the upload still in flight once put ${outcome}`,
          ).toBe(0);
          proxy.hold = undefined;
          // Let a request of the upload still in flight land.
          await sleep(500);
          if (outcome === "stored") {
            expect(await proxied.contents.list("up/")).toEqual(["up/job-6/input.bin"]);
            const stored = await proxied.contents.get("up/job-6/input.bin");
            expect(await sha256Of(stored)).toBe(source.sha256());
          } else {
            expect(
              await proxied.contents.list("up/"),
              "put rejected, yet the object exists",
            ).toEqual([]);
          }
          await expectNoPendingWrites(proxied);
        },
      );

      // --- delete / list -----------------------------------------------------------------------

      test("list returns exactly the keys under a prefix, sorted", async () => {
        const keys = [
          "jobs/b/2",
          "jobs/a/1",
          "jobs/b/1",
          "jobs/a/sub/deep.txt",
          "jobsx/1",
          "other/1",
        ];
        for (const key of keys) await store.put(key, text(key), { contentType: "text/plain" });
        expect(await opened.contents.list("jobs/")).toEqual([
          "jobs/a/1",
          "jobs/a/sub/deep.txt",
          "jobs/b/1",
          "jobs/b/2",
        ]);
        expect(await opened.contents.list("jobs/a/")).toEqual(["jobs/a/1", "jobs/a/sub/deep.txt"]);
        expect(await opened.contents.list("jobs")).toEqual([
          "jobs/a/1",
          "jobs/a/sub/deep.txt",
          "jobs/b/1",
          "jobs/b/2",
          "jobsx/1",
        ]);
        expect(await opened.contents.list("")).toEqual([...keys].sort());
        expect(await opened.contents.list("none/")).toEqual([]);
      });

      test("delete removes objects and ignores missing keys", async () => {
        for (const key of ["d/1", "d/2", "d/sub/3", "e/1"]) {
          await store.put(key, text(key), { contentType: "text/plain" });
        }
        await store.delete(["d/1", "d/missing", "nowhere/at/all", "d/sub/3"]);
        expect(await opened.contents.list("")).toEqual(["d/2", "e/1"]);
        await expect(opened.contents.get("d/1")).rejects.toThrow();
        await store.delete([]);
        await store.delete(["d/1"]);
        expect(await opened.contents.list("")).toEqual(["d/2", "e/1"]);
        // A deleted key can be written again.
        await store.put("d/sub/3", text("again"), { contentType: "text/plain" });
        expect((await buffer(await opened.contents.get("d/sub/3"))).toString()).toBe("again");
      });

      test("delete handles more than 1000 keys in one call", async () => {
        const keys = Array.from({ length: 1010 }, (_, i) => `bulk/${String(i).padStart(4, "0")}`);
        await eachLimit(keys, 16, (key) =>
          store.put(key, text(key), { contentType: "text/plain" }),
        );
        await store.put("keep/me", text("keep"), { contentType: "text/plain" });
        if (driver.pagesListings) {
          // Listing pages past 1000 keys.
          expect(await opened.contents.list("bulk/")).toEqual(keys);
        } else {
          const listed: string[] = [];
          for (let hundred = 0; hundred <= 10; hundred++) {
            listed.push(
              ...(await opened.contents.list(`bulk/${String(hundred).padStart(2, "0")}`)),
            );
          }
          expect(listed).toEqual(keys);
        }
        await store.delete([...keys, "bulk/missing-1", "bulk/missing-2"]);
        expect(await opened.contents.list("bulk/")).toEqual([]);
        expect(await opened.contents.list("")).toEqual(["keep/me"]);
      });

      // --- unsafe keys -------------------------------------------------------------------------

      test.each(UNSAFE_KEYS.map((key) => [JSON.stringify(key), key]))(
        "the unsafe key %s is refused by put, delete and downloadUrl",
        async (_, key) => {
          const options = { filename: "x.txt", contentType: "text/plain", ttlSeconds: 60 };
          await expect(store.put(key, text("evil"), { contentType: "text/plain" })).rejects.toThrow(
            /unsafe object key/,
          );
          await expect(store.delete([key])).rejects.toThrow(/unsafe object key/);
          await expect(store.downloadUrl(key, options)).rejects.toThrow(/unsafe object key/);
          expect(await opened.contents.list("")).toEqual([]);
        },
      );

      test.runIf(driver.kind === "local")("the local temporary area is not a key", async () => {
        await expect(store.put(".tmp/x", text("x"), { contentType: "text/plain" })).rejects.toThrow(
          /unsafe object key/,
        );
        await expect(store.delete([".tmp/x"])).rejects.toThrow(/unsafe object key/);
      });

      // --- download URLs -----------------------------------------------------------------------

      test.each([
        ["report.pdf", "application/pdf"],
        ["résumé.pdf", "application/pdf"],
        ['notes "v2" ünïcode.txt', "text/plain; charset=utf-8"],
      ])("a download URL for %s serves the exact bytes, name and type", async (filename, type) => {
        const bytes = randomBytes(300 * 1024);
        await store.put("out/job-1/result.bin", text(bytes), {
          contentType: "application/octet-stream",
        });
        const before = Date.now();
        const { url, expiresAt } = await store.downloadUrl("out/job-1/result.bin", {
          filename,
          contentType: type,
          ttlSeconds: 600,
        });
        expect(expiresAt.getTime()).toBeGreaterThanOrEqual(before + 599_000);
        expect(expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 600_000);
        const download = await opened.download(url);
        expect(sha256(download.bytes)).toBe(sha256(bytes));
        if (driver.overridesResponseHeaders) {
          expect(download.filename).toBe(filename);
          expect(download.contentType).toBe(type);
        }
      });

      test.runIf(driver.kind === "s3" && driver.overridesResponseHeaders)(
        "S3 downloads carry Content-Disposition: attachment with an ASCII fallback and filename*",
        async () => {
          await store.put("out/r.pdf", text("%PDF-1.7"), { contentType: "application/pdf" });
          const { url } = await store.downloadUrl("out/r.pdf", {
            filename: "résumé.pdf",
            contentType: "application/pdf",
            ttlSeconds: 60,
          });
          const res = await fetch(url);
          expect(res.status).toBe(200);
          expect(await res.text()).toBe("%PDF-1.7");
          expect(res.headers.get("content-type")).toBe("application/pdf");
          const disposition = res.headers.get("content-disposition") ?? "";
          expect(disposition).toMatch(/^attachment;/);
          expect(disposition).toContain('filename="r_sum_.pdf"');
          expect(disposition).toContain("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf");
          expect(disposition).toBe(attachmentDisposition("résumé.pdf"));
        },
      );

      test("each downloadUrl call mints a fresh URL", async () => {
        await store.put("out/a.txt", text("fresh"), { contentType: "text/plain" });
        const options = { filename: "a.txt", contentType: "text/plain", ttlSeconds: 300 };
        const first = await store.downloadUrl("out/a.txt", options);
        if (driver.kind === "local") {
          // Tokens carry a nonce: distinct even within the same second.
          expect((await store.downloadUrl("out/a.txt", options)).url).not.toBe(first.url);
        }
        await nextSecond();
        const second = await store.downloadUrl("out/a.txt", options);
        expect(second.url).not.toBe(first.url);
        expect(second.expiresAt.getTime()).toBeGreaterThan(first.expiresAt.getTime());
        for (const { url } of [first, second]) {
          expect((await opened.download(url)).bytes.toString()).toBe("fresh");
        }
      });

      // --- expiry ------------------------------------------------------------------------------

      const tokenOf = (url: string) => new URL(url).pathname.replace(/^\/v1\/files\//, "");
      const nowSeconds = () => Math.floor(Date.now() / 1000);
      const tokenOptions = { filename: "t.txt", contentType: "text/plain", ttlSeconds: 60 };

      test.runIf(driver.kind === "local")(
        "local tokens carry the claims and report expired once past their expiry",
        async () => {
          const secret = opened.secret ?? "";
          await store.put("out/t.txt", text("token"), { contentType: "text/plain" });

          // Minted an hour ago (the store's clock in the past).
          const past = await open({ now: () => Date.now() - 3600_000 });
          const old = await past.store.downloadUrl("out/t.txt", tokenOptions);
          expect(old.expiresAt.getTime()).toBeLessThan(Date.now());
          expect(verifyToken(past.secret ?? "", tokenOf(old.url), nowSeconds())).toEqual({
            ok: false,
            reason: "expired",
          });

          // Minted now, checked with later clocks.
          const { url, expiresAt } = await store.downloadUrl("out/t.txt", tokenOptions);
          expect(url.startsWith(`${PUBLIC_URL}/v1/files/`)).toBe(true);
          const token = tokenOf(url);
          const expires = expiresAt.getTime() / 1000;
          expect(Number.isInteger(expires)).toBe(true);
          expect(Math.abs(expires - (nowSeconds() + 60))).toBeLessThanOrEqual(1);
          expect(verifyToken(secret, token, nowSeconds())).toEqual({
            ok: true,
            claims: { key: "out/t.txt", expires, filename: "t.txt", contentType: "text/plain" },
          });
          expect(verifyToken(secret, token, expires - 1).ok).toBe(true);
          expect(verifyToken(secret, token, expires)).toEqual({ ok: false, reason: "expired" });
          expect(verifyToken(secret, token, expires + 3600)).toEqual({
            ok: false,
            reason: "expired",
          });
        },
      );

      test.runIf(driver.kind === "local")(
        "local tokens with any one character changed are invalid",
        async () => {
          const secret = opened.secret ?? "";
          const token = tokenOf((await store.downloadUrl("out/t.txt", tokenOptions)).url);
          const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
          const notInvalid: string[] = [];
          // Every other character (of base64url, or '.') at every position.
          for (let i = 0; i < token.length; i++) {
            for (const replacement of `${alphabet}.`) {
              if (replacement === token[i]) continue;
              const tampered = token.slice(0, i) + replacement + token.slice(i + 1);
              const result = verifyToken(secret, tampered, nowSeconds());
              if (result.ok || result.reason !== "invalid") {
                notInvalid.push(`position ${i} of ${token.length}: ${tampered}`);
              }
            }
          }
          expect(notInvalid, "tokens with one character changed that were not invalid").toEqual([]);
        },
      );

      test.runIf(driver.kind === "local")(
        "local tokens signed with another secret, and garbage, are invalid",
        async () => {
          const secret = opened.secret ?? "";
          const token = tokenOf((await store.downloadUrl("out/t.txt", tokenOptions)).url);
          expect(verifyToken(secret, token, nowSeconds()).ok).toBe(true);
          expect(verifyToken("another secret", token, nowSeconds())).toEqual({
            ok: false,
            reason: "invalid",
          });
          const other = await open();
          const foreign = tokenOf((await other.store.downloadUrl("out/t.txt", tokenOptions)).url);
          expect(verifyToken(secret, foreign, nowSeconds())).toEqual({
            ok: false,
            reason: "invalid",
          });

          const [payload, signature] = token.split(".");
          for (const garbage of [
            "",
            "garbage",
            ".",
            "a.b",
            "a.b.c",
            "%%%.%%%",
            `${token}.`,
            `${token}.x`,
            `${payload}`,
            `${payload}.`,
            `.${signature}`,
          ]) {
            expect(verifyToken(secret, garbage, nowSeconds()), garbage).toEqual({
              ok: false,
              reason: "invalid",
            });
          }
        },
      );

      test.runIf(driver.kind === "local")(
        "local tokens correctly signed over something other than claims are invalid",
        async () => {
          const secret = opened.secret ?? "";
          const signed = (payload: string) => {
            const encoded = Buffer.from(payload).toString("base64url");
            return `${encoded}.${createHmac("sha256", secret).update(encoded).digest("base64url")}`;
          };
          const later = nowSeconds() + 60;
          for (const payload of [
            "not json",
            "null",
            "42",
            '"a string"',
            "[]",
            "{}",
            JSON.stringify({ k: "out/t.txt", e: String(later), f: "t.txt", t: "text/plain" }),
            JSON.stringify({ k: "out/t.txt", e: later }),
            JSON.stringify({ k: 7, e: later, f: "t.txt", t: "text/plain" }),
          ]) {
            let result: unknown;
            try {
              result = verifyToken(secret, signed(payload), nowSeconds());
            } catch (error) {
              result = `threw ${error}`;
            }
            expect(result, payload).toEqual({ ok: false, reason: "invalid" });
          }
        },
      );

      test.runIf(driver.kind === "s3")(
        "S3 URLs: X-Amz-Expires is the TTL and expiresAt is now + TTL",
        async () => {
          await store.put("out/e.txt", text("e"), { contentType: "text/plain" });
          const before = Date.now();
          const { url, expiresAt } = await store.downloadUrl("out/e.txt", {
            filename: "e.txt",
            contentType: "text/plain",
            ttlSeconds: 900,
          });
          const query = new URL(url).searchParams;
          expect(query.get("X-Amz-Expires")).toBe("900");
          const signedAt = amzDate(query.get("X-Amz-Date")).getTime();
          expect(signedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
          expect(Math.abs(expiresAt.getTime() - (signedAt + 900_000))).toBeLessThan(2000);
          expect(expiresAt.getTime()).toBeGreaterThanOrEqual(before + 900_000);
          expect(expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 900_000);
        },
      );

      test.runIf(driver.kind === "s3" && driver.checksExpiry)(
        "S3 URLs are refused once expired",
        async () => {
          await store.put("out/x.txt", text("soon gone"), { contentType: "text/plain" });
          await nextSecond();
          const { url } = await store.downloadUrl("out/x.txt", {
            filename: "x.txt",
            contentType: "text/plain",
            ttlSeconds: 1,
          });
          const fresh = await fetch(url);
          expect(fresh.status).toBe(200);
          expect(await fresh.text()).toBe("soon gone");
          await sleep(2500);
          const late = await fetch(url);
          await late.arrayBuffer();
          expect(late.status).toBeGreaterThanOrEqual(400);
          expect(late.status).toBeLessThan(500);
        },
      );

      // --- public endpoint ---------------------------------------------------------------------

      test.runIf(driver.kind === "s3")(
        "URLs are signed for the public endpoint, not rewritten, and work there",
        async () => {
          const endpoint = harness?.endpoint ?? "";
          const port = new URL(endpoint).port;
          expect(new URL(endpoint).hostname).toBe("127.0.0.1");
          const publicEndpoint = `http://localhost:${port}`;
          const pub = await open({ s3: { endpoint, publicEndpoint } });
          await pub.store.ensureReady();
          const bytes = randomBytes(4096);
          await pub.store.put("out/p.bin", text(bytes), {
            contentType: "application/octet-stream",
          });
          const options = { filename: "p.bin", contentType: "application/octet-stream" };
          const { url } = await pub.store.downloadUrl("out/p.bin", { ...options, ttlSeconds: 120 });
          const parsed = new URL(url);
          expect(parsed.host).toBe(`localhost:${port}`);
          expect(parsed.protocol).toBe("http:");

          // The signature is the one computed for the public host (a URL signed for the internal
          // address and rewritten afterwards would carry another one).
          const signatureFor = async (at: string) => {
            const client = new S3Client({
              endpoint: at,
              region: "us-east-1",
              forcePathStyle: true,
              credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
            });
            const signedUrl = await getSignedUrl(
              client,
              new GetObjectCommand({
                Bucket: pub.options?.bucket,
                Key: "out/p.bin",
                ResponseContentDisposition: attachmentDisposition(options.filename),
                ResponseContentType: options.contentType,
              }),
              { expiresIn: 120, signingDate: amzDate(parsed.searchParams.get("X-Amz-Date")) },
            );
            client.destroy();
            return new URL(signedUrl).searchParams.get("X-Amz-Signature");
          };
          const signature = parsed.searchParams.get("X-Amz-Signature");
          expect(signature).toBe(await signatureFor(publicEndpoint));
          expect(signature).not.toBe(await signatureFor(endpoint));

          const download = await pub.download(url);
          expect(sha256(download.bytes)).toBe(sha256(bytes));
          if (driver.overridesResponseHeaders) expect(download.filename).toBe("p.bin");
        },
      );
    },
  );
});
