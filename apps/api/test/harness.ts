import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Role } from "@agnt/contract";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll } from "vitest";
import { createKey } from "../src/accounts/service.ts";
import { type AgentInput, upsertAgent } from "../src/agents/service.ts";
import { type AppOptions, buildApp } from "../src/app.ts";
import { openLocalStore } from "../src/storage/local.ts";
import type { ObjectStore } from "../src/storage/types.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { localContents, type StoreContents } from "./store-contents.ts";

export interface Caller {
  key: string;
  accountId: string;
}

/** A store for a test, with a view of what it holds. */
export interface TestStore {
  store: ObjectStore;
  contents: StoreContents;
}

export interface TestEnv {
  app: FastifyInstance;
  store: ObjectStore;
  /** What the store holds (tests check that refused uploads leave nothing). */
  contents: StoreContents;
  database: TestDatabase;
  buyer: Caller;
  buyer2: Caller;
  provider: Caller;
  provider2: Caller;
  admin: Caller;
  /** An agent of `provider`, with a strict input schema (see TEST_INPUT_SCHEMA). */
  agentId: string;
  /** An agent of `provider2`. */
  otherAgentId: string;
  /** Adds an agent owned by `provider` unless said otherwise; returns its id. */
  addAgent(overrides?: Partial<AgentInput>): Promise<string>;
  /** Makes a request; `key` is sent as a Bearer token. */
  call(method: string, url: string, options?: CallOptions): Promise<CallResult>;
}

export interface CallOptions {
  key?: string | undefined;
  /** An object is sent as JSON; a string or Buffer as is (set content-type yourself). */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API sent.
  body: any;
  headers: Record<string, unknown>;
  text: string;
  /** The response body's bytes (downloads). */
  raw: Buffer;
}

export const TEST_INPUT_SCHEMA = {
  type: "object",
  required: ["language"],
  additionalProperties: false,
  properties: {
    language: { type: "string", enum: ["typescript", "python", "go"] },
    max_files: { type: "integer", minimum: 1, maximum: 50 },
    paths: { type: "array", items: { type: "string" } },
  },
};

let agentCounter = 0;

/** A complete agent definition for tests. */
export function agentInput(
  ownerAccountId: string,
  overrides: Partial<AgentInput> = {},
): AgentInput {
  agentCounter += 1;
  return {
    ownerAccountId,
    slug: `test-agent-${agentCounter}-${Math.random().toString(36).slice(2, 8)}`,
    name: `Test agent ${agentCounter}`,
    description: "Does test work.",
    tags: ["test"],
    pricing: { model: "per_job", amount_cents: 100, currency: "USD" },
    inputSchema: TEST_INPUT_SCHEMA,
    outputSchema: { type: "object" },
    ...overrides,
  };
}

async function makeCaller(database: TestDatabase, role: Role, name: string): Promise<Caller> {
  const created = await createKey(database.db, { role, name });
  return { key: created.key, accountId: created.account_id };
}

export interface TestEnvOptions extends Partial<Omit<AppOptions, "db" | "store">> {
  /** The object store (default: a local store in a temporary directory). */
  store?: () => Promise<TestStore>;
}

/** Base URL of local download URLs in tests; `env.call` accepts such URLs. */
export const TEST_PUBLIC_URL = "http://agnt.test";

/** A local object store in a fresh temporary directory, removed when the test file ends. */
export async function tempLocalStore(): Promise<TestStore & { root: string }> {
  // The store's root sits inside a private folder, so tests can check nothing lands beside it.
  const dir = mkdtempSync(join(tmpdir(), "agnt-files-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, "files");
  const store = openLocalStore({
    root,
    publicUrl: TEST_PUBLIC_URL,
    secret: "test-secret-test-secret-test-secret",
  });
  await store.ensureReady();
  return { store, contents: localContents(root), root };
}

/** A fresh database, an app on it and the usual cast of callers, for the whole test file. */
export function useTestEnv(options: TestEnvOptions = {}): TestEnv {
  const env = {} as TestEnv;
  beforeAll(async () => {
    const database = await createTestDatabase();
    const { store: makeStore, ...appOptions } = options;
    const { store, contents } = await (makeStore ?? tempLocalStore)();
    const app = await buildApp({
      db: database.db,
      store,
      logLevel: false,
      maintenanceIntervalMs: 0,
      // Every response a test sees is checked against the contract.
      validateResponses: true,
      ...appOptions,
    });
    env.store = store;
    env.contents = contents;
    env.database = database;
    env.app = app;
    env.buyer = await makeCaller(database, "buyer", "Buyer One");
    env.buyer2 = await makeCaller(database, "buyer", "Buyer Two");
    env.provider = await makeCaller(database, "provider", "Provider One");
    env.provider2 = await makeCaller(database, "provider", "Provider Two");
    env.admin = await makeCaller(database, "admin", "Admin");
    env.addAgent = (overrides = {}) =>
      upsertAgent(
        database.db,
        agentInput(overrides.ownerAccountId ?? env.provider.accountId, overrides),
      );
    env.agentId = await env.addAgent();
    env.otherAgentId = await env.addAgent({ ownerAccountId: env.provider2.accountId });
    env.call = async (method, url, callOptions = {}) => {
      const headers: Record<string, string> = { ...callOptions.headers };
      if (callOptions.key !== undefined) headers.authorization = `Bearer ${callOptions.key}`;
      const hasBody = callOptions.body !== undefined;
      const raw = typeof callOptions.body === "string" || Buffer.isBuffer(callOptions.body);
      if (hasBody && !raw && !headers["content-type"]) headers["content-type"] = "application/json";
      const response = await app.inject({
        method: method as "GET",
        url: url.startsWith(TEST_PUBLIC_URL) ? url.slice(TEST_PUBLIC_URL.length) : url,
        headers,
        ...(hasBody
          ? {
              payload: raw
                ? (callOptions.body as string | Buffer)
                : JSON.stringify(callOptions.body),
            }
          : {}),
      });
      let body: unknown;
      try {
        body = response.body ? JSON.parse(response.body) : undefined;
      } catch {
        body = undefined;
      }
      return {
        status: response.statusCode,
        body,
        headers: response.headers,
        text: response.body,
        raw: response.rawPayload,
      };
    };
  }, 180_000);
  afterAll(async () => {
    await env.app?.close();
    await env.database?.drop();
  });
  return env;
}

/** Orders a job from the test agent as `buyer`; returns the job. */
export async function orderJob(
  env: TestEnv,
  overrides: Record<string, unknown> = {},
  key = env.buyer.key,
) {
  const response = await env.call("POST", "/v1/jobs", {
    key,
    body: {
      agent_id: env.agentId,
      prompt: "Refactor the parser",
      params: { language: "typescript" },
      ...overrides,
    },
  });
  if (response.status !== 201) throw new Error(`order failed: ${response.status} ${response.text}`);
  return response.body;
}

/** Drives a job through the executor routes as `provider`. */
export async function setStatus(
  env: TestEnv,
  jobId: string,
  body: Record<string, unknown>,
  key = env.provider.key,
) {
  return env.call("POST", `/v1/executor/jobs/${jobId}/status`, { key, body });
}
