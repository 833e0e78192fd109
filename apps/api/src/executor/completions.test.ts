import { describe, expect, it } from "vitest";
import { useCountedApp } from "../../test/counted-app.ts";
import { until } from "../../test/expect.ts";
import { agentInput } from "../../test/harness.ts";
import { upsertAgent } from "../agents/service.ts";

/**
 * Completions that take the next job (`?next=start`) arriving together go to the database as
 * one statement (`sql.completeAndTake`), which shares the agents' pending jobs out among them:
 * the oldest first, one each, never one twice, never one another executor holds, and nothing
 * for a completion that does not apply.
 */
describe("concurrent completions that take the next job", () => {
  // A slow database (every write takes 200 ms more): completions overlap as under load.
  const env = useCountedApp({ writeDelayMs: 200 });
  const { statements } = env;

  type JobBody = { job_id: string; status: string; attempt: number };
  const call = (method: "GET" | "POST", url: string, key: string, body?: object, exec?: string) =>
    env.app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${key}`,
        ...(exec ? { "agnt-executor-id": exec } : {}),
      },
      ...(body ? { payload: body } : {}),
    });

  async function order(agentId = env.agentId): Promise<string> {
    const res = await call("POST", "/v1/jobs", env.buyerKey, {
      agent_id: agentId,
      prompt: "p",
      params: { language: "go" },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().job_id;
  }

  /** Pending jobs of the agent, ordered one after the other (oldest first). */
  async function orders(count: number, agentId = env.agentId): Promise<string[]> {
    const jobs: string[] = [];
    for (let i = 0; i < count; i++) jobs.push(await order(agentId));
    return jobs;
  }

  /** A poll by `exec` for the agent's jobs (`query`: its claim and limit). */
  async function poll(exec: string, query: string, agentId = env.agentId): Promise<JobBody[]> {
    const url = `/v1/executor/jobs?agent_id=${agentId}&wait=0&${query}`;
    const res = await call("GET", url, env.providerKey, undefined, exec);
    expect(res.statusCode, res.body).toBe(200);
    return res.json().jobs;
  }

  /** A job ordered and started for each of `execs`, in order. */
  async function running(execs: string[], agentId = env.agentId): Promise<string[]> {
    const jobs: string[] = [];
    for (const exec of execs) {
      const [job] = await orders(1, agentId);
      expect((await poll(exec, "claim=start&limit=1", agentId)).map((j) => j.job_id)).toEqual([
        job,
      ]);
      jobs.push(job as string);
    }
    return jobs;
  }

  /** Completes each job for its executor, all at once; the answers in order. */
  async function completeAll(jobs: string[], execs: string[], attempts?: number[]) {
    statements.length = 0;
    return Promise.all(
      jobs.map((job, i) =>
        call(
          "POST",
          `/v1/executor/jobs/${job}/complete?next=start`,
          env.providerKey,
          { attempt: attempts?.[i] ?? 1 },
          execs[i],
        ),
      ),
    );
  }

  /** A completion's answer: 200, and the ids of the jobs it took. */
  function nextOf(res: { statusCode: number; body: string; json(): { next_jobs: JobBody[] } }) {
    expect(res.statusCode, res.body).toBe(200);
    return res.json().next_jobs.map((j) => j.job_id);
  }

  const takes = () => statements.filter((sql) => sql.startsWith("WITH done AS")).length;

  async function jobRow(jobId: string) {
    const { rows } = await env.database.db.query<{ status: string; executor_id: string | null }>(
      "SELECT status, executor_id FROM jobs WHERE job_id = $1",
      [jobId],
    );
    return rows[0];
  }

  async function history(jobId: string) {
    const { rows } = await env.database.db.query<{ to_status: string; actor: string }>(
      "SELECT to_status, actor FROM job_events WHERE job_id = $1 ORDER BY event_id",
      [jobId],
    );
    return rows.map((row) => `${row.to_status} by ${row.actor}`);
  }

  /** Takes every pending job of the agent off the queue (each test starts from none). */
  async function drain(agentId = env.agentId) {
    while ((await poll("drain", "claim=start&limit=100", agentId)).length > 0);
  }

  /**
   * From an empty queue: a running job for each of `count` executors, then `pending` jobs
   * waiting; then every executor completes its job at once (`attempts` as completeAll's).
   */
  async function completeWithWaiting(count: number, pending: number, attempts?: number[]) {
    await drain();
    const execs = Array.from({ length: count }, (_, i) => `exec-${i + 1}`);
    const jobs = await running(execs);
    const waiting = await orders(pending);
    return { execs, jobs, waiting, answers: await completeAll(jobs, execs, attempts) };
  }

  it("share one statement and the oldest pending jobs: one each, each to its own executor", async () => {
    const { execs, jobs, waiting, answers } = await completeWithWaiting(4, 6);
    const next = answers.map((res, i) => {
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ job_id: jobs[i], status: "completed" });
      const taken = res.json().next_jobs as JobBody[];
      expect(taken.map((j) => [j.status, j.attempt])).toEqual([["running", 1]]);
      return taken[0]?.job_id as string;
    });
    // Fewer statements than completions: they went together.
    expect(takes()).toBeGreaterThanOrEqual(1);
    expect(takes()).toBeLessThan(execs.length);
    // The four oldest, none twice; each started for the executor that took it.
    expect([...next].sort()).toEqual(waiting.slice(0, 4).sort());
    for (const [i, job] of next.entries()) {
      expect(await jobRow(job)).toEqual({ status: "running", executor_id: execs[i] });
      expect(await history(job)).toEqual([
        "pending by buyer",
        "accepted by executor",
        "running by executor",
      ]);
    }
    expect((await poll("exec-9", "claim=none&limit=10")).map((j) => j.job_id)).toEqual(
      waiting.slice(4),
    );
  });

  it("with fewer pending jobs than completions, each job goes to one of them and the rest take none", async () => {
    const { execs, waiting, answers } = await completeWithWaiting(4, 2);
    const taken = answers.flatMap(nextOf);
    expect(takes()).toBeLessThan(execs.length);
    expect([...taken].sort()).toEqual([...waiting].sort());
    expect(await poll("exec-9", "claim=none&limit=10")).toEqual([]);
  });

  it("a completion that does not apply takes nothing; the others of its batch do", async () => {
    const { execs, jobs, waiting, answers } = await completeWithWaiting(3, 3, [1, 2, 1]);
    expect(answers[1]?.statusCode, answers[1]?.body).toBe(409);
    expect(answers[1]?.json().code).toBe("ATTEMPT_MISMATCH");
    const taken = [answers[0], answers[2]].flatMap((res) => nextOf(res as (typeof answers)[0]));
    expect(takes()).toBeLessThan(execs.length);
    expect([...taken].sort()).toEqual(waiting.slice(0, 2).sort());
    expect((await jobRow(jobs[1] as string))?.status).toBe("running");
    expect((await poll("exec-9", "claim=none&limit=10")).map((j) => j.job_id)).toEqual(
      waiting.slice(2),
    );
  });

  it("a job an executor holds goes to that executor's completion, never to another's", async () => {
    await drain();
    const execs = ["exec-a", "exec-b", "exec-c"];
    const [a, b, c] = await running(execs);
    const [held, free1, free2] = await orders(3);
    // exec-b reserves the oldest job (a poll that does not claim holds what it hands out).
    expect((await poll("exec-b", "limit=1")).map((j) => j.job_id)).toEqual([held]);
    statements.length = 0;
    const complete = (job: string | undefined, exec: string) =>
      call("POST", `/v1/executor/jobs/${job}/complete?next=start`, env.providerKey, {}, exec);
    // exec-c's completion goes alone (and takes the oldest job no one holds); exec-a's and
    // exec-b's wait for it and go together: were reservations ignored, exec-a would take the
    // oldest job.
    const first = complete(c, "exec-c");
    await until(() => takes() === 1);
    const answers = await Promise.all([complete(a, "exec-a"), complete(b, "exec-b"), first]);
    const next = answers.map(nextOf);
    expect(takes()).toBe(2);
    expect(next).toEqual([[free2], [held], [free1]]);
    expect(await jobRow(held as string)).toEqual({ status: "running", executor_id: "exec-b" });
  });

  it("completions of different agents in one statement each take their own agent's job", async () => {
    await drain();
    const other = await upsertAgent(env.database.db, agentInput(env.providerAccountId));
    const execs = ["exec-1", "exec-2", "exec-3"];
    const agents = [env.agentId, other, env.agentId];
    const jobs: string[] = [];
    for (const [i, exec] of execs.entries()) {
      jobs.push(...(await running([exec], agents[i])));
    }
    const mine = await orders(3);
    const theirs = await orders(2, other);
    const answers = await completeAll(jobs, execs);
    const next = answers.map(nextOf);
    expect(takes()).toBeLessThan(execs.length);
    expect(next[1]).toEqual([theirs[0]]);
    expect([...(next[0] ?? []), ...(next[2] ?? [])].sort()).toEqual(mine.slice(0, 2).sort());
  });
});
