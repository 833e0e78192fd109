import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand, startServer } from "../../common/agnt-server.ts";
import { withClient } from "../database.ts";
import { HttpClient, type Reply } from "./http.ts";
import { openPglite } from "./pglite.ts";
import type { Claimed, Driver, SystemContext, SystemUnderTest } from "./types.ts";

const AGENT_SQL = `INSERT INTO agents
  (owner_account_id, slug, name, description, tags, pricing, input_schema, output_schema)
  VALUES ($1, 'bench-agent', 'Bench agent', 'Finishes every job at once.', '{}',
          '{"model":"free","amount_cents":0,"currency":"USD"}', '{"type":"object"}', '{"type":"object"}')
  RETURNING agent_id`;

/** Inserts the one agent every job is ordered from, owned by the provider account. */
async function insertAgent(
  context: SystemContext,
  dataDir: string,
  owner: string,
): Promise<string> {
  type Row = { agent_id: string };
  if (context.db.kind === "postgres") {
    return withClient(context.db.url, async (c) => {
      const { rows } = await c.query<Row>(AGENT_SQL, [owner]);
      return (rows[0] as Row).agent_id;
    });
  }
  // The server is not running yet: open its embedded database directly, as the one-off
  // commands do, and close it before the server starts.
  const db = await openPglite(dataDir);
  try {
    const { rows } = await db.query<Row>(AGENT_SQL, [owner]);
    return (rows[0] as Row).agent_id;
  } finally {
    await db.close();
  }
}

function expectStatus(reply: Reply, status: number, what: string): void {
  if (reply.status !== status) {
    throw new Error(`${what}: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
  }
}

/**
 * How agnt's executors take a job: `claim`, as an executor that takes every job it is handed
 * runs — the poll accepts and starts the job it hands out (`claim=start`), and each completion
 * takes the next one the same way (`?next=start`), so a busy executor polls only when the
 * queue is empty (two requests per job with the buyer's order); `steps`, the specification's
 * calls one by one (poll, which reserves; accept; running; complete: five requests per job).
 */
export type AgntFlow = "claim" | "steps";

/**
 * agnt through its HTTP API, as operators run it: `agnt-server migrate`, two keys, one agent,
 * then `agnt-server start` in its own process. Buyers POST /v1/jobs; each executor long-polls
 * for one job and takes it (see AgntFlow) and completes it.
 */
export async function setupAgnt(
  context: SystemContext,
  flow: AgntFlow = "claim",
): Promise<SystemUnderTest> {
  // With a server the data directory holds only the file store's secret; with PGlite, the database.
  const ownDir = context.db.kind === "pglite" ? undefined : mkdtempSync(join(tmpdir(), "agnt-"));
  try {
    return await setupIn(
      context,
      context.db.kind === "pglite" ? context.db.dataDir : (ownDir as string),
      ownDir,
      flow,
    );
  } catch (error) {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    throw error;
  }
}

async function setupIn(
  context: SystemContext,
  dataDir: string,
  ownDir: string | undefined,
  flow: AgntFlow,
): Promise<SystemUnderTest> {
  const env: Record<string, string> = {
    AGNT_DATA_DIR: dataDir,
    ...(context.db.kind === "postgres" ? { DATABASE_URL: context.db.url } : {}),
  };
  runCommand(["migrate"], env);
  const buyer = runCommand(["keys", "create", "--role", "buyer", "--name", "bench"], env);
  const provider = runCommand(
    ["keys", "create", "--role", "provider", "--name", "bench-provider"],
    env,
  );
  const agentId = await insertAgent(context, dataDir, String(provider.account_id));
  const server = await startServer(
    {
      ...env,
      HOST: "127.0.0.1",
      PORT: "0",
      ...(context.logLevel ? { LOG_LEVEL: context.logLevel } : {}),
    },
    context.serverNodeArgs,
  );

  const http = new HttpClient(server.url);
  let conflicts = 0;
  const buyerHeaders = { authorization: `Bearer ${String(buyer.key)}` };
  const executorHeaders = Array.from({ length: context.executors }, (_, i) => ({
    authorization: `Bearer ${String(provider.key)}`,
    "agnt-executor-id": `bench-executor-${i}`,
  }));
  const headersOf = (executor: number) => executorHeaders[executor] as Record<string, string>;
  const pollPath = `/v1/executor/jobs?agent_id=${agentId}&limit=1&wait=30${flow === "claim" ? "&claim=start" : ""}`;

  const driver: Driver = {
    async create() {
      const reply = await http.request("POST", "/v1/jobs", buyerHeaders, {
        agent_id: agentId,
        prompt: "bench",
        params: {},
      });
      expectStatus(reply, 201, "create job");
      return (reply.body as { job_id: string }).job_id;
    },
    async take(executor, signal): Promise<Claimed | undefined> {
      const headers = headersOf(executor);
      const poll = await http.request("GET", pollPath, headers, undefined, signal);
      expectStatus(poll, 200, "poll");
      const job = (poll.body as { jobs: { job_id: string; attempt: number }[] }).jobs[0];
      if (!job) return undefined;
      // Claimed by the poll: accepted and running already.
      if (flow === "claim") return { id: job.job_id, attempt: job.attempt };
      const path = `/v1/executor/jobs/${job.job_id}/status`;
      const accept = await http.request("POST", path, headers, { status: "accepted" });
      if (accept.status === 409) {
        conflicts += 1;
        return undefined;
      }
      expectStatus(accept, 200, "accept");
      const attempt = (accept.body as { attempt: number }).attempt;
      const running = await http.request("POST", path, headers, { status: "running", attempt });
      expectStatus(running, 200, "start");
      return { id: job.job_id, attempt };
    },
    async finish(executor, job) {
      // Claiming executors take their next job with the completion (none pending: poll again).
      const path = `/v1/executor/jobs/${job.id}/complete${flow === "claim" ? "?next=start" : ""}`;
      const done = await http.request("POST", path, headersOf(executor), { attempt: job.attempt });
      expectStatus(done, 200, "complete");
      const next = (done.body as { next_jobs?: { job_id: string; attempt: number }[] }).next_jobs;
      return next?.[0] && { id: next[0].job_id, attempt: next[0].attempt };
    },
  };

  const count = async (status?: string) => {
    const reply = await http.request(
      "GET",
      `/v1/jobs?limit=1${status ? `&status=${status}` : ""}`,
      buyerHeaders,
    );
    expectStatus(reply, 200, "list jobs");
    return (reply.body as { total: number }).total;
  };
  return {
    driver,
    serverPid: server.pid,
    counters: () => ({ httpRequests: http.requests, conflicts }),
    countJobs: async () => ({ finished: await count("completed"), total: await count() }),
    async close() {
      http.close();
      await server.stop();
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    },
  };
}
