import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ERROR_CODES, type ErrorCode } from "@agnt/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orderJob, setStatus, type TestEnv, useTestEnv } from "./harness.ts";

/**
 * The API refuses many requests before it has read their body: a bad key, an unknown agent,
 * invalid params, a limit, a stale attempt. The refusal must reach the client even while the
 * client is still sending; a client that sees a connection reset instead would report "API
 * unreachable". The client runs in its own process (in-process, the event loop hides the race).
 */

const CLIENT = join(import.meta.dirname, "fixtures", "refusal-client.mjs");
const BOUNDARY = "agnt-refusal-boundary";
const MULTIPART = { "content-type": `multipart/form-data; boundary=${BOUNDARY}` };
const UNKNOWN_AGENT = "00000000-0000-4000-8000-000000000000";

interface Scenario {
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  head: string;
  fillBytes: number;
  tail: string;
  expect: ErrorCode;
}

type Report = Record<string, Record<string, Record<string, number>>>;

const dir = mkdtempSync(join(tmpdir(), "agnt-refusal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the client process over the scenarios (asynchronously: the API runs in this process). */
async function runClient(
  url: string,
  scenarios: Scenario[],
  modes: string[],
  tries: number,
  watchClose = false,
): Promise<Report> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ url, tries, modes, scenarios, watchClose }));
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [CLIENT, file], { timeout: 240_000 }, (error, out, err) =>
      error ? reject(new Error(`client failed: ${err}`, { cause: error })) : resolve(out),
    ),
  );
  return JSON.parse(stdout);
}

const valuePart = (name: string, value: string, asFile = false) =>
  asFile
    ? `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}.json"\r\nContent-Type: application/json\r\n\r\n${value}\r\n`
    : `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;

/** A multipart body: value parts, then one file part of `fillBytes` bytes. */
function upload(values: string[], fillBytes: number) {
  return {
    head: `${values.join("")}--${BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="src/big.txt"\r\nContent-Type: text/plain\r\n\r\n`,
    fillBytes,
    tail: `\r\n--${BOUNDARY}--\r\n`,
  };
}

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

function orderScenarios(env: TestEnv, fillBytes: number): Scenario[] {
  const job = (fields: Record<string, unknown>, asFile = false) =>
    valuePart("job", JSON.stringify({ prompt: "Review it", ...fields }), asFile);
  const order = (
    name: string,
    expected: ErrorCode,
    headers: Record<string, string>,
    values: string[],
  ): Scenario => ({
    name,
    method: "POST",
    path: "/v1/jobs",
    headers: { ...MULTIPART, ...headers },
    ...upload(values, fillBytes),
    expect: expected,
  });
  const buyer = auth(env.buyer.key);
  const ok = { agent_id: env.agentId, params: { language: "go" } };
  return [
    order("no key", "UNAUTHENTICATED", {}, [job(ok)]),
    order("a provider's key", "FORBIDDEN", auth(env.provider.key), [job(ok)]),
    order("an invalid job part", "VALIDATION_FAILED", buyer, [job({ agent_id: "nope" })]),
    order("invalid params", "PARAMS_INVALID", buyer, [
      job({ ...ok, params: { language: "cobol" } }),
    ]),
    order("an unknown agent", "AGENT_NOT_FOUND", buyer, [job({ agent_id: UNKNOWN_AGENT })]),
    order("a job part sent as a file, unknown agent", "AGENT_NOT_FOUND", buyer, [
      job({ agent_id: UNKNOWN_AGENT }, true),
    ]),
    order("a file over the size limit", "FILE_TOO_LARGE", buyer, [job(ok)]),
    {
      name: "a JSON body over the size limit",
      method: "POST",
      path: "/v1/jobs",
      headers: { ...buyer, "content-type": "application/json" },
      head: '{"prompt": "',
      fillBytes: Math.max(fillBytes, 2 * 1024 * 1024),
      tail: '"}',
      expect: "PAYLOAD_TOO_LARGE",
    },
    {
      name: "multipart to a JSON-only route",
      method: "POST",
      path: `/v1/jobs/${UNKNOWN_AGENT}/cancel`,
      headers: { ...buyer, ...MULTIPART },
      ...upload([], fillBytes),
      expect: "UNSUPPORTED_MEDIA_TYPE",
    },
  ];
}

function completeScenarios(
  env: TestEnv,
  running: string,
  pending: string,
  fillBytes: number,
): Scenario[] {
  const complete = (
    name: string,
    expected: ErrorCode,
    path: string,
    key: string | undefined,
    values: string[],
  ): Scenario => ({
    name,
    method: "POST",
    path,
    headers: { ...MULTIPART, ...(key ? auth(key) : {}) },
    ...upload(values, fillBytes),
    expect: expected,
  });
  const at = (jobId: string) => `/v1/executor/jobs/${jobId}/complete`;
  return [
    complete("completion without a key", "UNAUTHENTICATED", at(running), undefined, []),
    complete("completion with a buyer's key", "FORBIDDEN", at(running), env.buyer.key, []),
    complete(
      "completion at a stale ?attempt=",
      "ATTEMPT_MISMATCH",
      `${at(running)}?attempt=2`,
      env.provider.key,
      [],
    ),
    complete(
      "completion with a stale attempt field",
      "ATTEMPT_MISMATCH",
      at(running),
      env.provider.key,
      [valuePart("attempt", "2")],
    ),
    complete(
      "completion of a pending job",
      "INVALID_TRANSITION",
      at(pending),
      env.provider.key,
      [],
    ),
  ];
}

/** Every outcome of every scenario and mode is the expected status and code, every time. */
function expectAnswered(report: Report, scenarios: Scenario[], tries: number) {
  for (const scenario of scenarios) {
    const expected = `${ERROR_CODES[scenario.expect].status} ${scenario.expect}`;
    for (const [mode, counts] of Object.entries(report[scenario.name] ?? {})) {
      expect(counts, `${scenario.name} over ${mode}`).toEqual({ [expected]: tries });
    }
  }
}

describe("refusals before the body is read reach the client", () => {
  const env = useTestEnv({ uploads: { maxFileBytes: 128 * 1024 } });
  let url: string;
  let running: string;
  let pending: string;

  beforeAll(async () => {
    url = await env.app.listen({ port: 0, host: "127.0.0.1" });
    running = (await orderJob(env)).job_id;
    expect((await setStatus(env, running, { status: "accepted" })).status).toBe(200);
    expect((await setStatus(env, running, { status: "running", attempt: 1 })).status).toBe(200);
    pending = (await orderJob(env)).job_id;
  });

  it("over fetch and a raw socket, 1 MiB bodies, 20 times each", async () => {
    const scenarios = [
      ...orderScenarios(env, 1024 * 1024),
      ...completeScenarios(env, running, pending, 1024 * 1024),
    ];
    const report = await runClient(url, scenarios, ["fetch", "socket"], 20);
    expectAnswered(report, scenarios, 20);
  }, 240_000);

  it("over fetch with a body still trickling in (chunked), 256 KiB, 5 times each", async () => {
    const scenarios = [
      ...orderScenarios(env, 256 * 1024),
      ...completeScenarios(env, running, pending, 256 * 1024),
    ];
    const report = await runClient(url, scenarios, ["stream"], 5);
    expectAnswered(report, scenarios, 5);
  }, 240_000);

  it("keeps the connection usable: the rest of the body is read, not left unread", async () => {
    const { default: net } = await import("node:net");
    const { port } = new URL(url);
    const socket = net.connect(Number(port), "127.0.0.1");
    // Refused after the job part (unknown agent) while the file part is still to come…
    const { head, fillBytes, tail } = upload(
      [valuePart("job", JSON.stringify({ agent_id: UNKNOWN_AGENT, prompt: "x" }))],
      512 * 1024,
    );
    const refused = Buffer.concat([
      Buffer.from(head),
      Buffer.alloc(fillBytes, 97),
      Buffer.from(tail),
    ]);
    const request = (headers: string, payload: Buffer) =>
      Buffer.concat([
        Buffer.from(
          `POST /v1/jobs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${env.buyer.key}\r\n${headers}content-length: ${payload.length}\r\n\r\n`,
        ),
        payload,
      ]);
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString();
    });
    socket.write(request(`content-type: ${MULTIPART["content-type"]}\r\n`, refused));
    // …then a second request on the same connection is answered too.
    socket.write(request("content-type: application/json\r\n", Buffer.from("{")));
    await expect
      .poll(() => [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => match[1]), {
        timeout: 20_000,
      })
      .toEqual(["404", "400"]);
    expect(received).toContain("MALFORMED_JSON");
    socket.destroy();
  });
});

describe("past the drain bound the connection closes, the answer still arrives", () => {
  const env = useTestEnv({ drain: { maxBytes: 256 * 1024, maxMs: 10_000 } });

  it("reads up to the bound, then closes the connection after the answer", async () => {
    const url = await env.app.listen({ port: 0, host: "127.0.0.1" });
    const scenario: Scenario = {
      name: "no key, 32 MiB",
      method: "POST",
      path: "/v1/jobs",
      headers: MULTIPART,
      ...upload([valuePart("job", "{}")], 32 * 1024 * 1024),
      expect: "UNAUTHENTICATED",
    };
    const report = await runClient(url, [scenario], ["socket", "fetch"], 5, true);
    expect(report[scenario.name]?.socket).toEqual({
      "401 UNAUTHENTICATED (closed by the server)": 5,
    });
    expect(report[scenario.name]?.fetch).toEqual({ "401 UNAUTHENTICATED": 5 });
    // Under the bound the server reads the rest and keeps the connection for the next request.
    const small = { ...scenario, name: "no key, 64 KiB", fillBytes: 64 * 1024 };
    const kept = await runClient(url, [small], ["socket"], 3, true);
    expect(kept[small.name]?.socket).toEqual({ "401 UNAUTHENTICATED": 3 });
  });
});
