import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { serverEnv } from "../../common/agnt-server.ts";
import { HttpClient } from "./http.ts";
import {
  type Claimed,
  type Driver,
  type SystemContext,
  type SystemUnderTest,
  Unsupported,
} from "./types.ts";

const SERVER = resolve(import.meta.dirname, "floor-server.ts");

/** Starts `floor-server.ts` in its own process; resolves with it once it prints where it listens. */
function startFloorServer(databaseUrl: string) {
  const child = spawn(process.execPath, ["--import", "tsx", SERVER], {
    env: serverEnv({ DATABASE_URL: databaseUrl }),
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const url = new Promise<string>((found, fail) => {
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-65_536);
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match?.[1]) found(match[1]);
    });
    void exited.then(() => fail(new Error(`floor server exited:\n${stderr}`)));
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  return { child, url, stop };
}

/**
 * The floor of an HTTP job queue (`floor-server.ts`): Fastify and `pg` with nothing else, in
 * its own process, driven like agnt — buyers `POST /jobs`, executors long-poll
 * `GET /jobs/next?wait=30` (handed a job ordered while they wait, else taking one) and
 * `complete` it. What agnt's HTTP API pays beyond it is what its keys, validation, history,
 * leases and logs cost. PostgreSQL server only.
 */
export async function setupFloor(context: SystemContext): Promise<SystemUnderTest> {
  if (context.db.kind !== "postgres") throw new Unsupported("the floor runs on a server only");
  const server = startFloorServer(context.db.url);
  let http: HttpClient;
  try {
    http = new HttpClient(await server.url);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const driver: Driver = {
    async create() {
      const reply = await http.request("POST", "/jobs", {}, { prompt: "bench", params: {} });
      if (reply.status !== 201) throw new Error(`create job: HTTP ${reply.status}`);
      return (reply.body as { job_id: string }).job_id;
    },
    async take(executor, signal): Promise<Claimed | undefined> {
      const path = `/jobs/next?executor=bench-executor-${executor}&wait=30`;
      const reply = await http.request("GET", path, {}, undefined, signal);
      if (reply.status !== 200) throw new Error(`poll: HTTP ${reply.status}`);
      const job = (reply.body as { jobs: { job_id: string }[] }).jobs[0];
      return job && { id: job.job_id, attempt: 1 };
    },
    async finish(_executor, job) {
      const reply = await http.request("POST", `/jobs/${job.id}/complete`, {}, {});
      if (reply.status !== 200) throw new Error(`complete: HTTP ${reply.status}`);
      return undefined;
    },
  };
  return {
    driver,
    serverPid: server.child.pid,
    counters: () => ({ httpRequests: http.requests, conflicts: 0 }),
    async countJobs() {
      const reply = await http.request("GET", "/counts", {});
      return reply.body as { finished: number; total: number };
    },
    async close() {
      http.close();
      await server.stop();
    },
  };
}
