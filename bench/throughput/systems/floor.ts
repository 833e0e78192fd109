import { resolve } from "node:path";
import { startListening } from "../../common/agnt-server.ts";
import { HttpClient } from "./http.ts";
import {
  type Claimed,
  type Driver,
  type SystemContext,
  type SystemUnderTest,
  Unsupported,
} from "./types.ts";

const SERVER = resolve(import.meta.dirname, "floor-server.ts");

/**
 * The floor of an HTTP job queue (`floor-server.ts`): Fastify and `pg` with nothing else, in
 * its own process, driven like agnt — buyers `POST /jobs`, executors long-poll
 * `GET /jobs/next?wait=30` (handed a job ordered while they wait, else taking one) and
 * `complete` it. What agnt's HTTP API pays beyond it is what its keys, validation, history,
 * leases and logs cost. PostgreSQL server only.
 */
export async function setupFloor(context: SystemContext): Promise<SystemUnderTest> {
  if (context.db.kind !== "postgres") throw new Unsupported("the floor runs on a server only");
  const server = await startListening("floor server", ["--import", "tsx", SERVER], {
    DATABASE_URL: context.db.url,
  });
  const http = new HttpClient(server.url);
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
    serverPid: server.pid,
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
