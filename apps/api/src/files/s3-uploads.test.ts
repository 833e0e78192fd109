import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { expectProblem } from "../../test/expect.ts";
import {
  type CallResult,
  orderJob,
  setStatus,
  type TestEnv,
  useTestEnv,
} from "../../test/harness.ts";
import { multipart, type Part } from "../../test/multipart.ts";
import { type S3Server, s3StoreOptions, startMoto, startS3rver } from "../../test/s3-servers.ts";
import { s3Contents } from "../../test/store-contents.ts";
import { openS3Store } from "../storage/s3.ts";

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const file = (filename: string, value: string | Buffer): Part => ({
  name: "files",
  filename,
  value,
});

/** The upload flows of the API over an S3-compatible server, as a production deployment runs them. */
function uploadSuite(
  name: string,
  start: () => Promise<S3Server | undefined>,
  // moto ignores response-content-disposition overrides; AWS S3, MinIO and s3rver honour them.
  honoursResponseOverrides: boolean,
) {
  describe(`uploads through S3 (${name})`, () => {
    let server: S3Server | undefined;
    let publicHost = "";
    const env: TestEnv = useTestEnv({
      uploads: { maxFileBytes: 6 * 1024 * 1024, maxFiles: 5, maxTotalBytes: 20 * 1024 * 1024 },
      store: async () => {
        server = await start();
        if (!server) throw new Error("no server");
        const port = new URL(server.endpoint).port;
        publicHost = `localhost:${port}`;
        const options = s3StoreOptions(server.endpoint, { publicEndpoint: `http://${publicHost}` });
        const store = openS3Store(options);
        await store.ensureReady();
        return { store, contents: s3Contents(options) };
      },
    });
    afterAll(async () => server?.stop());

    async function runningJob(): Promise<string> {
      const jobId: string = (await orderJob(env)).job_id;
      await setStatus(env, jobId, { status: "accepted" });
      await setStatus(env, jobId, { status: "running", attempt: 1 });
      return jobId;
    }
    const complete = (jobId: string, parts: Part[]): Promise<CallResult> => {
      const form = multipart([{ name: "attempt", value: "1" }, ...parts]);
      return env.call("POST", `/v1/executor/jobs/${jobId}/complete`, {
        key: env.provider.key,
        body: form.body,
        headers: form.headers,
      });
    };

    it("stores results (one above the multipart part size) and presigns downloads for the public endpoint", async () => {
      const jobId = await runningJob();
      const big = Buffer.alloc(5.5 * 1024 * 1024, 3);
      const res = await complete(jobId, [
        file("out/report.md", "# ok\n"),
        file("out/big.bin", big),
      ]);
      expect(res.status, res.text).toBe(200);
      const result = await env.call("GET", `/v1/jobs/${jobId}/result`, { key: env.buyer.key });
      for (const entry of result.body.files) {
        const url = new URL(entry.download_url);
        expect(url.host).toBe(publicHost);
        expect(url.searchParams.get("X-Amz-Expires")).toBe("300");
        const download = await fetch(entry.download_url);
        expect(download.status).toBe(200);
        expect(sha256(Buffer.from(await download.arrayBuffer()))).toBe(entry.sha256);
        if (honoursResponseOverrides) {
          expect(download.headers.get("content-disposition")).toMatch(/^attachment; /);
        }
      }
      expect(result.body.files.map((f: { size_bytes: number }) => f.size_bytes)).toEqual([
        big.length,
        5,
      ]);
    });

    it("leaves no object behind when a file is over the limit, and a retry succeeds", async () => {
      const jobId = await runningJob();
      const res = await complete(jobId, [
        file("a.txt", "first"),
        file("huge.bin", Buffer.alloc(6 * 1024 * 1024 + 1)),
      ]);
      expectProblem(res, "FILE_TOO_LARGE");
      expect(await env.contents.list(`jobs/${jobId}/`)).toEqual([]);
      expect((await complete(jobId, [file("a.txt", "first")])).status).toBe(200);
      expect(await env.contents.list(`jobs/${jobId}/`)).toHaveLength(1);
    });

    it("hands input files to the executor through presigned URLs", async () => {
      const form = multipart([
        {
          name: "job",
          value: JSON.stringify({ agent_id: env.agentId, prompt: "p", params: { language: "go" } }),
        },
        file("src/a.go", "package a\n"),
      ]);
      const created = await env.call("POST", "/v1/jobs", {
        key: env.buyer.key,
        body: form.body,
        headers: form.headers,
      });
      expect(created.status, created.text).toBe(201);
      await setStatus(env, created.body.job_id, { status: "accepted" });
      const inputs = await env.call("GET", `/v1/executor/jobs/${created.body.job_id}/inputs`, {
        key: env.provider.key,
      });
      const download = await fetch(inputs.body.files[0].download_url);
      expect(await download.text()).toBe("package a\n");
    });
  });
}

uploadSuite("s3rver", startS3rver, true);
const moto = await startMoto().catch(() => undefined);
await moto?.stop();
if (moto) uploadSuite("moto", startMoto, false);
