import { createHash } from "node:crypto";
import { request } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { openS3Store } from "../src/storage/s3.ts";
import { orderJob, setStatus, type TestEnv, useTestEnv } from "./harness.ts";
import { type S3Server, s3StoreOptions, startS3rver } from "./s3-servers.ts";
import { s3Contents } from "./store-contents.ts";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/**
 * Streams a 1 GiB result file through the API over a real connection and samples the
 * process's resident memory meanwhile: the file passes through in chunks, never whole.
 */
function memorySuite(name: string, env: TestEnv) {
  it(`stays flat with the ${name} store (RSS grows by well under 1/10 of the file) and the file arrives intact`, async () => {
    const jobId: string = (await orderJob(env)).job_id;
    await setStatus(env, jobId, { status: "accepted" });
    await setStatus(env, jobId, { status: "running", attempt: 1 });
    const address = await env.app.listen({ port: 0, host: "127.0.0.1" });

    const boundary = "agnt-memory-test";
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="attempt"\r\n\r\n1\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="big/blob.bin"\r\n` +
        "Content-Type: application/octet-stream\r\n\r\n",
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const chunk = Buffer.alloc(MiB);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) % 251;
    const hash = createHash("sha256");

    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 25);

    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${address}/v1/executor/jobs/${jobId}/complete`,
        {
          method: "POST",
          headers: {
            authorization: `Bearer ${env.provider.key}`,
            "content-type": `multipart/form-data; boundary=${boundary}`,
            "content-length": String(head.length + GiB + tail.length),
          },
        },
        (res) => {
          let body = "";
          res.on("data", (data: Buffer) => {
            body += data.toString();
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.write(head);
      let sent = 0;
      const pump = () => {
        while (sent < GiB) {
          sent += chunk.length;
          hash.update(chunk);
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        req.end(tail);
      };
      pump();
    });
    clearInterval(sampler);

    expect(response.status, response.body).toBe(200);
    const growth = peak - baseline;
    console.log(
      `1 GiB upload (${name}): RSS ${Math.round(baseline / MiB)} MiB → peak ${Math.round(peak / MiB)} MiB (+${Math.round(growth / MiB)} MiB)`,
    );
    expect(growth).toBeLessThan(100 * MiB);
    const result = await env.call("GET", `/v1/jobs/${jobId}/result`, { key: env.buyer.key });
    expect(result.body.files).toEqual([
      expect.objectContaining({
        path: "big/blob.bin",
        size_bytes: GiB,
        sha256: hash.digest("hex"),
      }),
    ]);
  }, 180_000);
}

describe("memory while a 1 GiB file passes through", () => {
  describe("local directory", () => memorySuite("local", useTestEnv()));
  describe("S3 (s3rver)", () => {
    let server: S3Server | undefined;
    const env = useTestEnv({
      store: async () => {
        server = await startS3rver();
        const options = s3StoreOptions(server.endpoint, { partSize: 5 * MiB });
        const store = openS3Store(options);
        await store.ensureReady();
        return { store, contents: s3Contents(options) };
      },
    });
    afterAll(async () => server?.stop());
    memorySuite("S3", env);
  });
});
