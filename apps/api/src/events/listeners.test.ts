import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";
import { sleep, until } from "../../test/expect.ts";
import { agentInput, tempLocalStore } from "../../test/harness.ts";
import { createKey } from "../accounts/service.ts";
import { upsertAgent } from "../agents/service.ts";
import { buildApp } from "../app.ts";
import { ChangeFeed, JOB_CHANNEL, topics } from "./feed.ts";
import { LINGER_MS } from "./listeners.ts";

const onPostgres = inject("dbKind") === "postgres";

/** Rows of `change_listeners`: processes that watch every change. */
async function listenerRows(database: TestDatabase): Promise<number | undefined> {
  const { rows } = await database.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM change_listeners",
  );
  return rows[0]?.n;
}

/**
 * Changes to pending are always notified; any other change of a job only while some process
 * watches something that needs it (migration 0011, `ChangeListeners`).
 */
describe("which job changes the database notifies", () => {
  let database: TestDatabase;
  let ids: { agentId: string; buyer: string; provider: string };
  const feed = new ChangeFeed();
  const heard: { job_id: string; status: string }[] = [];
  let stopHearing: () => Promise<void>;

  beforeAll(async () => {
    database = await createTestDatabase();
    const buyer = await createKey(database.db, { role: "buyer", name: "Buyer" });
    const provider = await createKey(database.db, { role: "provider", name: "Provider" });
    ids = {
      agentId: await upsertAgent(database.db, agentInput(provider.account_id)),
      buyer: buyer.account_id,
      provider: provider.account_id,
    };
    await feed.listen(database.db);
    stopHearing = await database.db.listen(JOB_CHANNEL, {
      onNotify: (payload) => heard.push(JSON.parse(payload)),
    });
  });
  afterAll(async () => {
    await stopHearing?.();
    await feed.close();
    await database?.drop();
  });

  const insertJob = async () => {
    const { rows } = await database.db.query<{ job_id: string }>(
      `INSERT INTO jobs (agent_id, buyer_account_id, provider_account_id, prompt, params)
       VALUES ($1, $2, $3, 'p', '{}') RETURNING job_id`,
      [ids.agentId, ids.buyer, ids.provider],
    );
    return rows[0]?.job_id as string;
  };
  const accept = (jobId: string) =>
    database.db.query(
      "UPDATE jobs SET status = 'accepted', accepted_at = now() WHERE job_id = $1",
      [jobId],
    );
  /** What was heard of `jobId`, once a new pending job (heard after it) shows all of it arrived. */
  const heardOf = async (jobId: string) => {
    const marker = await insertJob();
    await until(() => heard.some((change) => change.job_id === marker), 15_000);
    return heard.filter((change) => change.job_id === jobId).map((change) => change.status);
  };
  const rows = () => listenerRows(database);

  it("tells a new pending job always, and nothing else while no one watches", async () => {
    await until(async () => (await rows()) === 0, 15_000);
    const jobId = await insertJob();
    await accept(jobId);
    expect(await heardOf(jobId)).toEqual(["pending"]);
  });

  it("tells every change while a watch needs them, and stops once the last watch has left", async () => {
    const jobId = await insertJob();
    // A executor's claiming poll needs pending jobs only: no row.
    const pendingOnly = feed.watch([topics.pendingOfAgent(ids.agentId)], undefined, {
      claims: true,
    });
    await pendingOnly.ready;
    expect(await rows()).toBe(0);
    pendingOnly.stop();

    const watch = feed.watch([topics.job(jobId)]);
    await watch.ready;
    expect(await rows()).toBe(1);
    await accept(jobId);
    expect(await heardOf(jobId)).toEqual(["pending", "accepted"]);
    // Another watch shares the row.
    const second = feed.watch([topics.any]);
    await second.ready;
    expect(await rows()).toBe(1);
    watch.stop();
    second.stop();
    // Kept a little (back-to-back long-polls), then taken out.
    await until(async () => (await rows()) === 0, LINGER_MS + 15_000);
    await database.db.query("UPDATE jobs SET progress = 50 WHERE job_id = $1", [jobId]);
    expect(await heardOf(jobId)).toEqual(["pending", "accepted"]);
  });

  it("counts a watch stopped twice once", async () => {
    const jobId = await insertJob();
    const first = feed.watch([topics.job(jobId)]);
    await first.ready;
    first.stop();
    first.stop();
    const second = feed.watch([topics.job(jobId)]);
    await second.ready;
    expect(await rows()).toBe(1);
    second.stop();
    await until(async () => (await rows()) === 0, LINGER_MS + 15_000);
  });

  it.runIf(onPostgres)(
    "a watch is ready only once every change that did not see its row has committed",
    async () => {
      const jobId = await insertJob();
      await until(async () => (await rows()) === 0, LINGER_MS + 15_000);
      const other = new pg.Client({ connectionString: database.url });
      await other.connect();
      try {
        await other.query("BEGIN");
        // Finds no listener (so tells no one), holding the watch lock shared until it commits.
        await other.query("UPDATE jobs SET status = 'accepted' WHERE job_id = $1", [jobId]);
        const watch = feed.watch([topics.job(jobId)]);
        let ready = false;
        void watch.ready.then(() => {
          ready = true;
        });
        // Its registration waits (a broken one would be ready at once).
        await sleep(500);
        expect(ready).toBe(false);
        await other.query("COMMIT");
        await watch.ready;
        // What the watcher reads from now on includes the change no one was told of.
        const { rows: job } = await database.db.query<{ status: string }>(
          "SELECT status FROM jobs WHERE job_id = $1",
          [jobId],
        );
        expect(job[0]?.status).toBe("accepted");
        expect(await rows()).toBe(1);
        watch.stop();
      } finally {
        await other.end();
      }
    },
  );
});

describe("a sweeper with no deadline in sight", () => {
  let database: TestDatabase;
  let close: () => Promise<void>;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await close?.();
    await database?.drop();
  });

  it("hears a lease taken elsewhere (plain SQL here) and reclaims it when it lapses", async () => {
    const buyer = await createKey(database.db, { role: "buyer", name: "Buyer" });
    const provider = await createKey(database.db, { role: "provider", name: "Provider" });
    const agentId = await upsertAgent(database.db, agentInput(provider.account_id));
    const app = await buildApp({
      db: database.db,
      store: (await tempLocalStore()).store,
      logLevel: false,
      maintenanceIntervalMs: 0,
      sweepIntervalMs: 50,
      feed: new ChangeFeed(),
    });
    close = () => app.close();
    // Idle: the sweeper watches every change, so the database tells them all.
    await until(async () => (await listenerRows(database)) === 1, 15_000);
    // Accepted by an executor served by another process, never pending here: only the
    // notification of this change can wake the sweeper.
    await database.db.query(
      `INSERT INTO jobs (agent_id, buyer_account_id, provider_account_id, prompt, params, status,
                         attempt, accepted_at, lease_expires_at)
       VALUES ($1, $2, $3, 'p', '{}', 'accepted', 1, now(), now() + interval '1 second')`,
      [agentId, buyer.account_id, provider.account_id],
    );
    await until(async () => {
      const { rows: jobs } = await database.db.query<{ status: string }>("SELECT status FROM jobs");
      return jobs.length === 1 && jobs[0]?.status !== "accepted";
    }, 15_000);
  });
});
