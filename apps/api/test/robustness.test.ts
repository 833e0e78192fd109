import { randomUUID } from "node:crypto";
import { JOB_STATUSES, type RouteDef, type RouteId, routes } from "@agnt/contract";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { expectProblem } from "./expect.ts";
import { type CallResult, orderJob, setStatus, useTestEnv } from "./harness.ts";

const env = useTestEnv();

/** Any answer below 500; any 4xx a complete problem document. */
function expectHandled(res: CallResult) {
  expect(res.status, res.text).toBeLessThan(500);
  if (res.status >= 400) expectProblem(res, res.status);
}

const allRoutes = Object.entries(routes) as [RouteId, RouteDef][];
const bodyRoutes = allRoutes.filter(([, def]) => def.body !== undefined);
// Routes whose path parameter is a UUID (the download token of /v1/files is opaque: a bad one
// is a 403 DOWNLOAD_URL_INVALID, tested with the files).
const paramRoutes = allRoutes.filter(([, def]) => /\{[a-z]+_id\}/.test(def.path));

let jobId: string;
beforeAll(async () => {
  jobId = (await orderJob(env)).job_id;
});

const keyFor = (def: RouteDef) =>
  def.auth
    ? { buyer: env.buyer.key, provider: env.provider.key, admin: env.admin.key }[def.auth]
    : undefined;

function urlFor(def: RouteDef, ids: Record<string, string> = {}) {
  const real: Record<string, string> = { job_id: jobId, agent_id: env.agentId, ...ids };
  return def.path.replace(/\{([a-z_]+)\}/g, (_, name: string) => real[name] ?? "");
}

const validBodies: Partial<Record<RouteId, () => Record<string, unknown>>> = {
  createJob: () => ({ agent_id: env.agentId, prompt: "Robust", params: { language: "go" } }),
  cancelJob: () => ({ reason: "robustness" }),
  updateJobStatus: () => ({ status: "accepted" }),
  heartbeat: () => ({ attempt: 1 }),
  completeJob: () => ({ attempt: 1 }),
  createKey: () => ({ role: "buyer", name: "robust" }),
};

describe("JSON bodies", () => {
  it("covers every route with a body", () => {
    expect(bodyRoutes.length).toBeGreaterThanOrEqual(5);
    for (const [id] of bodyRoutes) expect(validBodies[id], id).toBeDefined();
  });

  for (const [id, def] of bodyRoutes) {
    describe(`${def.method} ${def.path}`, () => {
      const send = (body: string, contentType = "application/json") =>
        env.call(def.method, urlFor(def, { key_id: randomUUID() }), {
          key: keyFor(def),
          body,
          headers: { "content-type": contentType },
        });

      it("400 MALFORMED_JSON for broken or empty JSON", async () => {
        for (const body of ['{"a":', "{", "[1,]", "{'a':1}", '{"a":1}}', "undefined", ""]) {
          expectProblem(await send(body), "MALFORMED_JSON");
        }
      });

      it("400 VALIDATION_FAILED for JSON that is not an object", async () => {
        for (const body of ["[]", "[1,2]", '"text"', "42", "-1.5", "null", "true"]) {
          const res = await send(body);
          expectProblem(res, "VALIDATION_FAILED");
          expect(res.body.errors?.[0]?.in, body).toBe("body");
        }
      });

      it("400 VALIDATION_FAILED naming an unknown top-level field", async () => {
        const body = { ...(validBodies[id]?.() ?? {}), bogus_field: 1 };
        const res = await send(JSON.stringify(body));
        expectProblem(res, "VALIDATION_FAILED");
        expect(res.body.errors).toContainEqual({
          in: "body",
          field: "bogus_field",
          message: "unknown field",
        });
      });

      it("415 for text/plain, form-urlencoded and other media types", async () => {
        const json = JSON.stringify(validBodies[id]?.());
        const types = ["text/plain", "text/plain; charset=utf-8", "application/xml"];
        for (const type of [...types, "application/x-www-form-urlencoded", "image/png"]) {
          expectProblem(await send(json, type), "UNSUPPORTED_MEDIA_TYPE");
        }
        expectProblem(await send("attempt=1", "application/x-www-form-urlencoded"), 415);
      });

      if (!def.multipart) {
        it("415 for multipart/form-data", async () => {
          const body = '--b0\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b0--\r\n';
          const res = await send(body, "multipart/form-data; boundary=b0");
          expectProblem(res, "UNSUPPORTED_MEDIA_TYPE");
        });
      }

      it("413 PAYLOAD_TOO_LARGE for a 1.2 MB body", async () => {
        const body = JSON.stringify({ ...validBodies[id]?.(), padding: "x".repeat(1_200_000) });
        expectProblem(await send(body), "PAYLOAD_TOO_LARGE");
      });
    });
  }
});

describe("oversized bodies", () => {
  it("refuses a 1.2 MB job order with 413 and creates nothing", async () => {
    const counts = async () =>
      (
        await env.database.db.query(
          "SELECT (SELECT count(*) FROM jobs)::int AS jobs, (SELECT count(*) FROM job_events)::int AS events, (SELECT count(*) FROM idempotency_keys)::int AS idem",
        )
      ).rows[0];
    const before = await counts();
    const body = { agent_id: env.agentId, prompt: "p".repeat(1_200_000), params: {} };
    for (const headers of [{}, { "idempotency-key": "too-large-1" }] as Record<string, string>[]) {
      const res = await env.call("POST", "/v1/jobs", { key: env.buyer.key, body, headers });
      expectProblem(res, "PAYLOAD_TOO_LARGE");
      expect(res.body.instance).toBe("/v1/jobs");
    }
    expect(await counts()).toEqual(before);
    expect(before?.jobs).toBeGreaterThan(0);
  });

  it("reads a body just under 1 MiB and validates it instead", async () => {
    const body = { agent_id: env.agentId, prompt: "p".repeat(1_000_000), params: {} };
    const res = await env.call("POST", "/v1/jobs", { key: env.buyer.key, body });
    expectProblem(res, "VALIDATION_FAILED");
    expect(res.body.errors).toContainEqual(
      expect.objectContaining({ in: "body", field: "prompt" }),
    );
  });
});

describe("NUL characters and lone surrogates in text", () => {
  it("never cause a 500, wherever they are sent", async () => {
    const job = async () => (await orderJob(env)).job_id as string;
    const accepted = await job();
    expect((await setStatus(env, accepted, { status: "accepted" })).status).toBe(200);
    const [nul, b, p] = ["a\u0000b", env.buyer.key, env.provider.key];
    const order = (o: object) => ({ agent_id: env.agentId, prompt: "p", params: {}, ...o });
    const status = (id: string, body: object) => [
      "POST",
      `/v1/executor/jobs/${id}/status`,
      p,
      body,
    ];
    const cases = [
      ["GET", `/v1/agents/search?q=${encodeURIComponent(nul)}`, b, undefined],
      ["GET", "/v1/agents/search?q=%00", b, undefined],
      ["POST", "/v1/jobs", b, order({ prompt: nul, params: { language: "go" } })],
      ["POST", "/v1/jobs", b, order({ params: { language: "go", paths: [nul] } })],
      ["POST", "/v1/jobs", b, order({ params: { language: "go", [nul]: 1 } })],
      ["POST", "/v1/jobs", b, order({ prompt: "\ud800", params: { language: "go" } })],
      ["POST", "/v1/jobs", b, order({ params: { language: "go", paths: ["\udfff\ud800"] } })],
      ["POST", `/v1/jobs/${await job()}/cancel`, b, { reason: nul }],
      status(await job(), { status: "rejected", reason: nul }),
      status(accepted, { status: "running", attempt: 1, message: nul }),
      status(accepted, { status: "failed", attempt: 1, reason: nul }),
      ["POST", "/v1/admin/keys", env.admin.key, { role: "buyer", name: nul }],
    ] as [string, string, string, unknown][];
    const failures: string[] = [];
    for (const [method, url, key, body] of cases) {
      const res = await env.call(method, url, { key, body });
      if (res.status >= 500)
        failures.push(`${method} ${url} ${JSON.stringify(body)}: ${res.status}`);
      else if (res.status >= 400) expectProblem(res, res.status);
    }
    expect(failures).toEqual([]);
  });
});

describe("path ids that are not UUIDs", () => {
  const paramName = (def: RouteDef) => /\{([a-z_]+)\}/.exec(def.path)?.[1] as string;
  const expectBadId = async (id: RouteId, def: RouteDef, value: string) => {
    const url = urlFor(def, { [paramName(def)]: value });
    const res = await env.call(def.method, url, { key: keyFor(def), body: validBodies[id]?.() });
    expectProblem(res, "VALIDATION_FAILED");
    expect(res.body.errors, value.slice(0, 40)).toContainEqual(
      expect.objectContaining({ in: "path", field: paramName(def) }),
    );
  };
  const bad = [
    "not-a-uuid",
    "123",
    encodeURIComponent("../etc"),
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "null",
    "%20",
    encodeURIComponent("😀"),
    "00000000-0000-0000-0000-00000000000g",
    `${randomUUID()}0`,
  ];
  for (const [id, def] of paramRoutes) {
    it(`400 VALIDATION_FAILED in path: ${def.method} ${def.path}`, async () => {
      expect(def.path.match(/\{/g)).toHaveLength(1);
      for (const value of bad) await expectBadId(id, def, value);
    });
  }

  it("400 VALIDATION_FAILED in path for very long ids, on every route", async () => {
    for (const [id, def] of paramRoutes) {
      for (const value of ["a".repeat(101), "a".repeat(2000), "1".repeat(5000)]) {
        await expectBadId(id, def, value);
      }
    }
  });

  it("400 problem+json for ids with broken percent-encoding", async () => {
    for (const value of ["%E9", "%", "%zz", "%C3%28"]) {
      const res = await env.call("GET", `/v1/jobs/${value}`, { key: env.buyer.key });
      expectProblem(res, "VALIDATION_FAILED");
    }
  });
});

describe("unknown routes and wrong methods", () => {
  it("404 NOT_FOUND problem+json, with or without a key", async () => {
    const unknown = ["GET /", "GET /v1", "GET /v1/nope", "GET /v2/jobs", "POST /v1/jobs/x/y/z"]
      .concat(["GET /v1/admin/keys", "DELETE /v1/jobs"])
      .map((line) => line.split(" ") as [string, string]);
    const registered = new Set(allRoutes.map(([, d]) => `${d.method} ${d.path}`));
    for (const [, def] of allRoutes) {
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
        if (!registered.has(`${method} ${def.path}`)) unknown.push([method, urlFor(def)]);
      }
    }
    expect(unknown.length).toBeGreaterThan(50);
    for (const [method, url] of unknown) {
      for (const key of [undefined, env.buyer.key]) {
        const res = await env.call(method, `${url}?x=1`, { key });
        expectProblem(res, "NOT_FOUND");
        expect(res.body.instance, `${method} ${url}`).toBe(url);
      }
    }
  });
});

const pct = (bytes: Uint8Array) =>
  [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
/** Characters that matter to SQL, tsquery, LIKE and encodings, mixed with any code point. */
const char = fc.oneof(
  fc.constantFrom("\0", "%", "_", "'", '"', "\\", "&", "|", "!", "(", ":", "*", "\ud800", "é", " "),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  fc.string({ minLength: 1, maxLength: 1 }),
);
const text = fc.string({ unit: char, maxLength: 30 });
/** A query value: random text as UTF-8, or random bytes (often invalid UTF-8), percent-encoded. */
const randomValue = fc.oneof(
  { arbitrary: text.map((s) => pct(Buffer.from(s, "utf8"))), weight: 3 },
  { arbitrary: fc.uint8Array({ maxLength: 30 }).map(pct), weight: 1 },
);
const param = (valid: fc.Arbitrary<string>) =>
  fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: randomValue, weight: 1 });
const digits = fc.nat({ max: 100 }).map(String);
const toQuery = (record: Record<string, string | string[] | undefined>) =>
  Object.entries(record)
    .flatMap(([k, v]) => (v === undefined ? [] : [v].flat().map((x) => `${k}=${x}`)))
    .join("&");

describe("property: random input never gets a 500", () => {
  const runs = { numRuns: 200 };
  const post = async (url: string, key: string, body: unknown) =>
    env.call("POST", url, {
      key,
      body: JSON.stringify(body) ?? "null",
      headers: { "content-type": "application/json" },
    });
  const jobBody = () =>
    fc.record(
      {
        agent_id: fc.oneof(
          { arbitrary: fc.constant(env.agentId), weight: 4 },
          { arbitrary: fc.oneof(fc.uuid(), text), weight: 1 },
        ),
        prompt: text,
        params: fc.oneof(
          {
            arbitrary: fc.record({ language: fc.constant("go"), paths: fc.array(text) }),
            weight: 3,
          },
          { arbitrary: fc.jsonValue(), weight: 1 },
        ),
      },
      { requiredKeys: ["agent_id", "prompt"] },
    );
  const attempt = fc.oneof({ arbitrary: fc.constant(1), weight: 4 }, fc.integer(), fc.double());
  const opt = { requiredKeys: ["status"] as "status"[] };
  const statusBody = fc.oneof(
    fc.record({ status: fc.constant("accepted"), attempt }, opt),
    fc.record({ status: fc.constant("rejected"), attempt, reason: text }, opt),
    fc.record(
      { status: fc.constant("running"), attempt, progress: fc.integer(), message: text },
      { requiredKeys: ["status", "attempt"] },
    ),
    fc.record(
      { status: fc.constant("failed"), attempt, reason: text, failure_code: fc.string() },
      { requiredKeys: ["status", "attempt"] },
    ),
    fc.dictionary(fc.constantFrom("status", "attempt", "progress", "message", "reason"), text),
  );

  for (const [name, arbitrary] of [
    ["fc.jsonValue()", () => fc.jsonValue()],
    ["fc.object()", () => fc.object()],
  ] as const) {
    it(`POST /v1/jobs with ${name} bodies`, async () => {
      await fc.assert(
        fc.asyncProperty(arbitrary(), async (body) => {
          expectHandled(await post("/v1/jobs", env.buyer.key, body));
        }),
        runs,
      );
    }, 120_000);

    it(`POST /v1/executor/jobs/{id}/status with ${name} bodies`, async () => {
      await fc.assert(
        fc.asyncProperty(arbitrary(), async (body) => {
          expectHandled(await post(`/v1/executor/jobs/${jobId}/status`, env.provider.key, body));
        }),
        runs,
      );
    }, 120_000);
  }

  it("POST /v1/jobs with nearly valid bodies", async () => {
    await fc.assert(
      fc.asyncProperty(jobBody(), async (body) => {
        expectHandled(await post("/v1/jobs", env.buyer.key, body));
      }),
      runs,
    );
  }, 120_000);

  it("POST /v1/executor/jobs/{id}/status with nearly valid bodies, from any open status", async () => {
    const from = fc.constantFrom("pending", "accepted", "running");
    await fc.assert(
      fc.asyncProperty(from, statusBody, async (start, body) => {
        const id: string = (await orderJob(env)).job_id;
        if (start !== "pending")
          expect((await setStatus(env, id, { status: "accepted" })).status).toBe(200);
        if (start === "running")
          expect((await setStatus(env, id, { status: "running", attempt: 1 })).status).toBe(200);
        expectHandled(await post(`/v1/executor/jobs/${id}/status`, env.provider.key, body));
      }),
      runs,
    );
  }, 120_000);

  const queries: Record<string, () => Record<string, fc.Arbitrary<string | string[]>>> = {
    "/v1/agents/search": () => ({
      q: randomValue,
      tag: fc.array(param(fc.constantFrom("test", "go")), { maxLength: 2 }),
      limit: param(digits),
      offset: param(digits),
    }),
    "/v1/jobs": () => ({
      agent_id: param(fc.constantFrom(env.agentId, env.otherAgentId)),
      status: fc.array(param(fc.constantFrom(...JOB_STATUSES)), { maxLength: 3 }),
      limit: param(digits),
      offset: param(digits),
    }),
  };
  for (const [path, fields] of Object.entries(queries)) {
    it(`GET ${path} with random query values`, async () => {
      const query = fc.record(fields(), { requiredKeys: [] });
      await fc.assert(
        fc.asyncProperty(query, async (q) => {
          expectHandled(await env.call("GET", `${path}?${toQuery(q)}`, { key: env.buyer.key }));
        }),
        { numRuns: 300 },
      );
    }, 120_000);
  }
});

describe("documentation", () => {
  it("serves the OpenAPI 3.1 document with every route", async () => {
    const res = await env.call("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(String(res.headers["content-type"])).toMatch(/^application\/json/);
    expect(res.body.openapi).toBe("3.1.0");
    for (const [, def] of allRoutes) {
      expect(res.body.paths?.[def.path]?.[def.method.toLowerCase()], def.path).toBeDefined();
    }
  });

  it("serves the HTML reference at /docs", async () => {
    for (const url of ["/docs", "/docs/"]) {
      const res = await env.call("GET", url);
      expect(res.status, url).toBe(200);
      expect(String(res.headers["content-type"])).toMatch(/^text\/html/);
      expect(res.text).toMatch(/<html/i);
    }
  });
});
