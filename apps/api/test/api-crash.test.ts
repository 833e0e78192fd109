import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { run, type Server, startServer } from "./server-process.ts";

const dir = mkdtempSync(join(tmpdir(), "agnt-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kill9(server: Server): Promise<unknown> {
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGKILL");
  return exited;
}

/** The environment, the buyer key and an agent's order body, for one kind of database. */
async function setUp(
  database: TestDatabase | undefined,
): Promise<{ env: Record<string, string>; buyer: string }> {
  if (!database) {
    const env = { AGNT_DATA_DIR: join(dir, "data") };
    const first = await startServer(env);
    const keys = JSON.parse(readFileSync(join(dir, "data", "local-keys.json"), "utf8"));
    await kill9(first);
    return { env, buyer: keys.buyer };
  }
  const env = { DATABASE_URL: database.url as string };
  expect(run(["seed"], env).code).toBe(0);
  return {
    env,
    buyer: run(["keys", "create", "--role", "buyer", "--name", "crash"], env).json.key,
  };
}

describe("kill -9 of the API process under a stream of orders", () => {
  let database: TestDatabase | undefined;
  afterAll(async () => database?.drop());

  it("loses no acknowledged order: every job answered 2xx exists afterwards with its data", async () => {
    if (inject("dbKind") === "postgres") database = await createTestDatabase({ empty: true });
    const { env, buyer } = await setUp(database);
    const headers = { authorization: `Bearer ${buyer}`, "content-type": "application/json" };
    let server = await startServer(env);
    const search = await fetch(`${server.url}/v1/agents/search?q=repository`, { headers });
    const agentId = ((await search.json()) as { agents: { agent_id: string }[] }).agents[0]
      ?.agent_id;
    expect(agentId).toBeDefined();

    const acknowledged = new Map<string, string>();
    let stopped = false;
    let sent = 0;
    const loop = async () => {
      while (!stopped) {
        const prompt = `order ${sent++}`;
        try {
          const response = await fetch(`${server.url}/v1/jobs`, {
            method: "POST",
            headers,
            body: JSON.stringify({ agent_id: agentId, prompt, params: { format: "json" } }),
          });
          if (response.status === 201)
            acknowledged.set(((await response.json()) as { job_id: string }).job_id, prompt);
        } catch {
          return; // the server is gone
        }
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    // Kill once a good number of orders were acknowledged, with more in flight: counted, not
    // timed, so a slow machine only makes it wait longer.
    await expect
      .poll(() => acknowledged.size, { timeout: 120_000, interval: 10 })
      .toBeGreaterThanOrEqual(25);
    await kill9(server);
    stopped = true;
    await Promise.all(loops);

    server = await startServer(env);
    const missing: string[] = [];
    for (const [jobId, prompt] of acknowledged) {
      const response = await fetch(`${server.url}/v1/jobs/${jobId}`, { headers });
      const job =
        response.status === 200
          ? ((await response.json()) as { prompt: string; status: string })
          : undefined;
      if (job?.prompt !== prompt || job.status !== "pending")
        missing.push(`${jobId}: ${response.status}`);
    }
    expect(missing).toEqual([]);
    await kill9(server);
  }, 600_000);
});
