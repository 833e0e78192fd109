import { createHash, randomBytes, randomUUID } from "node:crypto";
import net from "node:net";
import { type RouteDef, type RouteId, routeErrors, routes } from "@agnt/contract";
import { beforeAll, describe, expect, it } from "vitest";
import { expectProblem } from "./expect.ts";
import { orderJob, type TestEnv, useTestEnv } from "./harness.ts";

const env = useTestEnv();

/** GET /v1/jobs with these headers must be refused with 401. */
const expect401 = async (headers: Record<string, string>) =>
  expectProblem(await env.call("GET", "/v1/jobs", { headers }), "UNAUTHENTICATED");
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const keyOf = (role: string) =>
  role === "buyer" ? env.buyer.key : role === "provider" ? env.provider.key : env.admin.key;

/** A valid body for every route that takes one. */
const validBodies: Partial<Record<RouteId, (e: TestEnv) => unknown>> = {
  createJob: (e) => ({ agent_id: e.agentId, prompt: "Auth matrix", params: { language: "go" } }),
  cancelJob: () => ({ reason: "auth matrix" }),
  updateJobStatus: () => ({ status: "accepted" }),
  heartbeat: () => ({ attempt: 1 }),
  completeJob: () => ({ attempt: 1 }),
  createKey: () => ({ role: "buyer", name: "auth matrix" }),
};

interface Ids {
  job_id: string;
  agent_id: string;
  key_id: string;
  /** A finished job: its event stream ends, so a request to it completes. */
  finished_job_id: string;
}

async function freshIds(): Promise<Ids> {
  const job = await orderJob(env);
  const key = await env.call("POST", "/v1/admin/keys", {
    key: env.admin.key,
    body: { role: "buyer", name: "throwaway" },
  });
  expect(key.status).toBe(201);
  const finished = await orderJob(env);
  await env.call("POST", `/v1/jobs/${finished.job_id}/cancel`, { key: env.buyer.key });
  return {
    job_id: job.job_id,
    agent_id: env.agentId,
    key_id: key.body.key_id,
    finished_job_id: finished.job_id,
  };
}

function request(id: RouteId, def: RouteDef, ids: Ids) {
  const url = def.path.replace(/\{([a-z_]+)\}/g, (_, name: keyof Ids) =>
    id === "getJobEvents" && name === "job_id" ? ids.finished_job_id : ids[name],
  );
  const makeBody = validBodies[id];
  return { url, body: makeBody ? makeBody(env) : undefined };
}

const protectedRoutes = (Object.entries(routes) as [RouteId, RouteDef][]).filter(
  ([, def]) => def.auth !== null,
);

describe("every protected route", () => {
  let ids: Ids;
  beforeAll(async () => {
    ids = await freshIds();
  });

  it("has a valid body in this test for each route that takes one", () => {
    expect(protectedRoutes.length).toBeGreaterThanOrEqual(13);
    for (const [id, def] of protectedRoutes) {
      expect(def.body === undefined || validBodies[id] !== undefined, id).toBe(true);
    }
  });

  for (const [id, def] of protectedRoutes) {
    describe(`${def.method} ${def.path}`, () => {
      const send = (headers: Record<string, string>, key?: string) => {
        const { url, body } = request(id, def, ids);
        return env.call(def.method, url, { key, body, headers });
      };

      it("401 UNAUTHENTICATED without a key", async () => {
        const res = await send({});
        expectProblem(res, "UNAUTHENTICATED");
        expect(res.body.instance).toBe(request(id, def, ids).url);
      });

      it("401 for a well-formed unknown key", async () => {
        const unknown = () => `agnt_${randomBytes(32).toString("base64url")}`;
        expectProblem(await send(bearer(unknown())), "UNAUTHENTICATED");
        expectProblem(await send({ "x-api-key": unknown() }), "UNAUTHENTICATED");
      });

      it("401 for malformed keys", async () => {
        const valid = keyOf(def.auth as string);
        const malformed = [
          "agnt_short",
          valid.slice(0, -1),
          `${valid}A`,
          `agnx_${valid.slice(5)}`,
          valid.slice(5),
          `${valid.slice(0, 20)} ${valid.slice(21)}`,
          `agnt_${"!".repeat(43)}`,
        ];
        for (const key of malformed) {
          expectProblem(await send(bearer(key)), "UNAUTHENTICATED");
          expectProblem(await send({ "x-api-key": key }), "UNAUTHENTICATED");
        }
      });

      it("403 FORBIDDEN for a key of each wrong role", async () => {
        const wrong = (["buyer", "provider", "admin"] as const).filter((r) => r !== def.auth);
        expect(wrong).toHaveLength(2);
        for (const role of wrong) {
          const res = await send({}, keyOf(role));
          expectProblem(res, "FORBIDDEN");
          expectProblem(await send({ "x-api-key": keyOf(role) }), "FORBIDDEN");
        }
      });

      it("lets the right role through", async () => {
        const { url, body } = request(id, def, await freshIds());
        const res = await env.call(def.method, url, { key: keyOf(def.auth as string), body });
        expect(res.status, res.text).not.toBe(401);
        expect(res.status, res.text).not.toBe(403);
        expect(res.status, res.text).toBeLessThan(500);
        if (res.status >= 400) expect(routeErrors(def)).toContain(res.body.code);
        else expect(res.status).toBe(def.response.status);
      });
    });
  }
});

const NON_ASCII_KEYS = [
  `agnt_${"é".repeat(43)}`,
  `agnt_ünïcödé…${"a".repeat(31)}`,
  `agnt_${"ключ".repeat(10)}abc`,
  `agnt_${"😀".repeat(43)}`,
];

describe("non-ASCII keys", () => {
  it("get 401 through inject, in Authorization and X-API-Key", async () => {
    for (const key of [...NON_ASCII_KEYS, `${env.buyer.key}é`]) {
      await expect401(bearer(key));
      await expect401({ "x-api-key": key });
    }
  });

  it("get 401 (or 400 from the HTTP parser) over a real socket, never 5xx or a hang", async () => {
    await env.app.listen({ port: 0, host: "127.0.0.1" });
    const address = env.app.server.address();
    if (!address || typeof address === "string") throw new Error("no port");
    for (const key of NON_ASCII_KEYS) {
      for (const encoding of ["utf8", "latin1"] as const) {
        for (const header of ["Authorization: Bearer ", "X-API-Key: "]) {
          const raw = Buffer.concat([
            Buffer.from(`GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n${header}`, "latin1"),
            Buffer.from(key, encoding),
            Buffer.from("\r\nConnection: close\r\n\r\n", "latin1"),
          ]);
          const response = await rawRequest(address.port, raw);
          const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1]);
          expect([401, 400], `${header}${encoding}: ${response.slice(0, 200)}`).toContain(status);
          if (status === 401) expect(response).toMatch(/content-type: application\/problem\+json/i);
        }
      }
    }
  });
});

/** Writes raw bytes to the server and returns everything it answers before closing. */
function rawRequest(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete response within 5 s: ${JSON.stringify(data)}`));
    }, 5000);
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.write(bytes);
  });
}

describe("key transport", () => {
  it("accepts Bearer in any case and X-API-Key", async () => {
    for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) {
      const res = await env.call("GET", "/v1/jobs", {
        headers: { authorization: `${scheme} ${env.buyer.key}` },
      });
      expect(res.status, `${scheme}: ${res.text}`).toBe(200);
    }
    const viaHeader = await env.call("GET", "/v1/jobs", {
      headers: { "x-api-key": env.buyer.key },
    });
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.body.jobs).toEqual(expect.any(Array));
  });

  it("refuses other Authorization schemes, even next to a valid X-API-Key", async () => {
    const basic = `Basic ${Buffer.from(`user:${env.buyer.key}`).toString("base64")}`;
    for (const authorization of [basic, `Token ${env.buyer.key}`, "Bearer", "Bearer ", ""]) {
      await expect401({ authorization });
    }
    await expect401({ authorization: basic, "x-api-key": env.buyer.key });
  });

  it("needs no key on /health and /ready", async () => {
    expect(await env.call("GET", "/health")).toMatchObject({ status: 200, body: { status: "ok" } });
    expect(await env.call("GET", "/ready")).toMatchObject({
      status: 200,
      body: { status: "ok", database: "ok" },
    });
  });
});

const createdKeys: string[] = [];

describe("admin keys and revocation", () => {
  const createKey = async (body: unknown) =>
    env.call("POST", "/v1/admin/keys", { key: env.admin.key, body });

  it("creates, revokes (idempotently) and refuses a revoked key", async () => {
    const before = Date.now();
    const created = await createKey({ role: "buyer", name: "Revocable" });
    expect(created.status, created.text).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual(
      ["account_id", "created_at", "key", "key_id", "name", "role"].sort(),
    );
    expect(created.body).toMatchObject({ role: "buyer", name: "Revocable" });
    expect(created.body.key).toMatch(/^agnt_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(created.body.created_at)).toBeGreaterThan(before - 60_000);
    const key: string = created.body.key;
    createdKeys.push(key);
    const spare = await createKey({ account_id: created.body.account_id, name: "Spare" });
    createdKeys.push(spare.body.key);
    expect((await env.call("GET", "/v1/jobs", { key })).status).toBe(200);

    const revoked = await env.call("POST", `/v1/admin/keys/${created.body.key_id}/revoke`, {
      key: env.admin.key,
    });
    expect(revoked.status, revoked.text).toBe(200);
    expect(revoked.body).toMatchObject({
      key_id: created.body.key_id,
      account_id: created.body.account_id,
      role: "buyer",
      name: "Revocable",
      prefix: key.slice(0, 11),
      created_at: created.body.created_at,
    });
    expect(Date.parse(revoked.body.revoked_at)).not.toBeNaN();
    await expect401(bearer(key));
    await expect401({ "x-api-key": key });
    // The account's other key is untouched.
    expect((await env.call("GET", "/v1/jobs", { key: spare.body.key })).status).toBe(200);

    const again = await env.call("POST", `/v1/admin/keys/${created.body.key_id}/revoke`, {
      key: env.admin.key,
    });
    expect(again.status).toBe(200);
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at);
    await expect401(bearer(key));

    const unknown = await env.call("POST", `/v1/admin/keys/${randomUUID()}/revoke`, {
      key: env.admin.key,
    });
    expectProblem(unknown, "KEY_NOT_FOUND");
  });

  it("adds a key to an existing account", async () => {
    const created = await createKey({ account_id: env.buyer.accountId, name: "Second key" });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({
      account_id: env.buyer.accountId,
      role: "buyer",
      name: "Second key",
    });
    createdKeys.push(created.body.key);
    const job = await orderJob(env, {}, created.body.key);
    const listed = await env.call("GET", "/v1/jobs?limit=100", { key: env.buyer.key });
    expect(listed.body.jobs.map((j: { job_id: string }) => j.job_id)).toContain(job.job_id);
    const same = await createKey({
      account_id: env.provider.accountId,
      role: "provider",
      name: "P",
    });
    expect(same.status).toBe(201);
    expect(same.body.account_id).toBe(env.provider.accountId);
    createdKeys.push(same.body.key);
  });

  it("refuses mismatched roles, unknown accounts and incomplete requests", async () => {
    expectProblem(
      await createKey({ account_id: env.buyer.accountId, role: "admin", name: "x" }),
      "ROLE_MISMATCH",
    );
    expectProblem(await createKey({ account_id: randomUUID(), name: "x" }), "ACCOUNT_NOT_FOUND");
    const neither = await createKey({ name: "x" });
    expectProblem(neither, "VALIDATION_FAILED");
    expect(neither.body.errors).toContainEqual(expect.objectContaining({ in: "body" }));
    expectProblem(await createKey({ role: "superuser", name: "x" }), "VALIDATION_FAILED");
  });

  it("stores no plaintext key anywhere, only its sha256", async () => {
    const keys = [
      ...createdKeys,
      ...[env.buyer, env.buyer2, env.provider, env.provider2, env.admin].map((c) => c.key),
    ];
    expect(createdKeys.length).toBeGreaterThanOrEqual(4);
    const { db } = env.database;
    const tables = await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    expect(tables.rows.map((t) => t.table_name)).toContain("api_keys");
    let rowCount = 0;
    for (const { table_name } of tables.rows) {
      const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
      for (const { row } of rows.rows) {
        rowCount += 1;
        for (const key of keys) {
          expect(row, table_name).not.toContain(key);
          expect(row, table_name).not.toContain(key.slice(5));
        }
      }
    }
    expect(rowCount).toBeGreaterThan(keys.length);
    for (const key of keys) {
      const hash = createHash("sha256").update(key, "utf8").digest("hex");
      const found = await db.query("SELECT 1 FROM api_keys WHERE key_hash = $1", [hash]);
      expect(found.rowCount, key.slice(0, 11)).toBe(1);
    }
  });
});

describe("tenancy", () => {
  it("hides a buyer's job from another buyer and another provider", async () => {
    const job = await orderJob(env);
    const id: string = job.job_id;
    const other = env.buyer2.key;
    expectProblem(await env.call("GET", `/v1/jobs/${id}`, { key: other }), "JOB_NOT_FOUND");
    const waited = await env.call("GET", `/v1/jobs/${id}?wait=1`, { key: other });
    expectProblem(waited, "JOB_NOT_FOUND");
    expectProblem(
      await env.call("POST", `/v1/jobs/${id}/cancel`, { key: other, body: { reason: "mine" } }),
      "JOB_NOT_FOUND",
    );
    expectProblem(await env.call("GET", `/v1/jobs/${id}/result`, { key: other }), "JOB_NOT_FOUND");
    const own = await env.call("GET", `/v1/jobs/${id}`, { key: env.buyer.key });
    expect(own.body).toMatchObject({ job_id: id, status: "pending", decision_reason: null });
    for (const query of ["limit=100", "status=pending&limit=100", `agent_id=${env.agentId}`]) {
      const list = await env.call("GET", `/v1/jobs?${query}`, { key: other });
      expect(list.status).toBe(200);
      expect(list.body.jobs.map((j: { job_id: string }) => j.job_id)).not.toContain(id);
    }

    const p2 = env.provider2.key;
    expectProblem(
      await env.call("POST", `/v1/executor/jobs/${id}/status`, {
        key: p2,
        body: { status: "accepted" },
      }),
      "JOB_NOT_FOUND",
    );
    expectProblem(
      await env.call("POST", `/v1/executor/jobs/${id}/complete`, { key: p2, body: { attempt: 1 } }),
      "JOB_NOT_FOUND",
    );
    const ids = async (key: string, query: string) => {
      const list = await env.call("GET", `/v1/executor/jobs?${query}`, { key });
      expect(list.status, list.text).toBe(200);
      return list.body.jobs.map((j: { job_id: string }) => j.job_id);
    };
    for (const status of ["pending", "accepted", "running", "canceled"]) {
      expect(await ids(p2, `status=${status}&limit=100`)).not.toContain(id);
    }
    expect(await ids(env.provider.key, "status=pending&limit=100")).toContain(id);
    const still = await env.call("GET", `/v1/jobs/${id}`, { key: env.buyer.key });
    expect(still.body).toMatchObject({ status: "pending", attempt: 1, accepted_at: null });
  });
});
