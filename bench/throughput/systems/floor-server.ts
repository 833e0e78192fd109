import Fastify from "fastify";
import pg from "pg";

/**
 * The floor of an HTTP job queue: what any HTTP API over this database pays at least. Fastify
 * and a `pg` pool of 10, no keys, validation, logging, history, leases or batching; one table,
 * one row per job. Like agnt, a job ordered while a poll waits is inserted already running for
 * that poll's executor and handed to it; otherwise polls take with `FOR UPDATE SKIP LOCKED`.
 * With no leases, a job handed to a poll whose client leaves while the job's INSERT runs stays
 * running: the benchmark's executors leave only once every job is done.
 * Run by `floor.ts` as its own process: `DATABASE_URL` names the database; it prints
 * `listening on URL` on stderr.
 *
 *   POST /jobs                      {prompt, params} → 201, the row
 *   GET  /jobs/next?executor=E&wait=S → {jobs: [row]} (empty after S seconds)
 *   POST /jobs/:id/complete         → 200, the row; 409 unless running
 *   GET  /counts                    → {finished, total}
 */

interface Row {
  job_id: string;
  status: string;
  payload: unknown;
  executor: string | null;
  created_at: Date;
  completed_at: Date | null;
}

/** A poll waiting for a job: handed one at an order, woken to take again, or out of time. */
interface Waiting {
  executor: string;
  settle: (outcome: Row | "take" | "timeout") => void;
}

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL is required");
const pool = new pg.Pool({ connectionString: url, max: 10 });
await pool.query(`CREATE TABLE IF NOT EXISTS floor_jobs (
  job_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  status text NOT NULL CHECK (status IN ('pending', 'running', 'completed')),
  payload jsonb NOT NULL,
  executor text,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz)`);
await pool.query(
  "CREATE INDEX IF NOT EXISTS floor_jobs_pending ON floor_jobs (created_at) WHERE status = 'pending'",
);

const one = async (name: string, text: string, values: unknown[]) =>
  (await pool.query<Row>({ name, text, values })).rows[0];

/** Longest-waiting first. */
const waiting: Waiting[] = [];
/** Bumped by every pending insert, so a poll whose take raced one takes again instead of waiting. */
let pendingSeq = 0;

const app = Fastify({ logger: false });

app.post("/jobs", async (request, reply) => {
  const payload = JSON.stringify(request.body);
  const poll = waiting.shift();
  if (poll) {
    const row = await one(
      "floor_insert_running",
      "INSERT INTO floor_jobs (status, payload, executor) VALUES ('running', $1, $2) RETURNING *",
      [payload, poll.executor],
    );
    if (row) poll.settle(row);
    return reply.code(201).send(row);
  }
  const row = await one(
    "floor_insert_pending",
    "INSERT INTO floor_jobs (status, payload) VALUES ('pending', $1) RETURNING *",
    [payload],
  );
  pendingSeq += 1;
  waiting.shift()?.settle("take");
  return reply.code(201).send(row);
});

app.get<{ Querystring: { executor?: string; wait?: string } }>(
  "/jobs/next",
  async (request, reply) => {
    const executor = request.query.executor ?? "anonymous";
    const deadline = Date.now() + Number(request.query.wait ?? 0) * 1000;
    let gone = false;
    let current: Waiting | undefined;
    // A poll whose client went away leaves the line and is handed nothing more.
    reply.raw.once("close", () => {
      gone = true;
      if (current) current.settle("timeout");
    });
    for (;;) {
      const seen = pendingSeq;
      const row = await one(
        "floor_take",
        `UPDATE floor_jobs SET status = 'running', executor = $1
         WHERE job_id = (SELECT job_id FROM floor_jobs WHERE status = 'pending'
                         ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
         RETURNING *`,
        [executor],
      );
      if (row) return { jobs: [row] };
      if (pendingSeq !== seen) continue;
      const remaining = deadline - Date.now();
      if (gone || remaining <= 0) return { jobs: [] };
      const outcome = await new Promise<Row | "take" | "timeout">((resolve) => {
        const timer = setTimeout(() => entry.settle("timeout"), remaining);
        const entry: Waiting = {
          executor,
          settle: (value) => {
            clearTimeout(timer);
            const at = waiting.indexOf(entry);
            if (at >= 0) waiting.splice(at, 1);
            current = undefined;
            resolve(value);
          },
        };
        current = entry;
        waiting.push(entry);
      });
      if (typeof outcome === "object") return { jobs: [outcome] };
      if (outcome === "timeout") return { jobs: [] };
    }
  },
);

app.post<{ Params: { id: string } }>("/jobs/:id/complete", async (request, reply) => {
  const row = await one(
    "floor_complete",
    `UPDATE floor_jobs SET status = 'completed', completed_at = now()
     WHERE job_id = $1 AND status = 'running' RETURNING *`,
    [request.params.id],
  );
  if (!row) return reply.code(409).send({ error: "not running" });
  return row;
});

app.get("/counts", async () => {
  const { rows } = await pool.query(
    "SELECT count(*) FILTER (WHERE status = 'completed')::int AS finished, count(*)::int AS total FROM floor_jobs",
  );
  return rows[0];
});

const address = await app.listen({ host: "127.0.0.1", port: 0 });
process.stderr.write(`listening on ${address}\n`);
process.once("SIGTERM", () => {
  for (const poll of [...waiting]) poll.settle("timeout");
  void app
    .close()
    .then(() => pool.end())
    .then(() => process.exit(0));
});
