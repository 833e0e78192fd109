import { canTransition, isTerminal, type JobStatus } from "@agnt/contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { orderJob, type TestEnv, useTestEnv } from "../../test/harness.ts";
import { reclaimLapsedLeases } from "./sql.ts";

/** What the model believes about the one job a run drives. */
interface Model {
  status: JobStatus;
  attempt: number;
  maxAttempts: number;
}

interface Real {
  env: TestEnv;
  jobId: string;
  events: number;
}

/** `delta`: the attempt sent is the current one plus delta; null: no attempt sent (unfenced). */
type Action =
  | { kind: "accepted" | "rejected" | "running" | "failed"; delta: number | null }
  | { kind: "complete"; delta: number | null }
  | { kind: "heartbeat"; delta: number | null }
  | { kind: "cancel" }
  | { kind: "lapse" };

/** What an executor's call on a job may be refused with (all 409). */
const REFUSALS = [
  "INVALID_TRANSITION",
  "ATTEMPT_MISMATCH",
  "JOB_CANCELED",
  "JOB_TIMED_OUT",
  "LEASE_LOST",
];

async function snapshot(real: Real) {
  const { rows } = await real.env.database.db.query<{
    status: JobStatus;
    attempt: number;
    events: number;
  }>(
    `SELECT status, attempt, (SELECT count(*)::int FROM job_events e WHERE e.job_id = j.job_id) AS events
     FROM jobs j WHERE job_id = $1`,
    [real.jobId],
  );
  return rows[0] as { status: JobStatus; attempt: number; events: number };
}

/** The attempt an action sends: none, the current one, or a stale/future one (never 0). */
function sentAttempt(model: Model, action: Action): number | undefined {
  const delta = "delta" in action ? action.delta : 0;
  if (delta === null) return undefined;
  const sent = model.attempt + delta;
  return sent >= 1 ? sent : model.attempt + 1;
}

/** The model's prediction: the status the job moves to, or undefined when refused. */
function predict(model: Model, action: Action): JobStatus | undefined {
  const sent = sentAttempt(model, action);
  const stale = sent !== undefined && sent !== model.attempt;
  const executorCallOk = (to: JobStatus) =>
    !stale && canTransition(model.status, to, "executor") ? to : undefined;
  switch (action.kind) {
    case "cancel":
      return canTransition(model.status, "canceled", "buyer") ? "canceled" : undefined;
    case "complete":
      return !stale && model.status === "running" ? "completed" : undefined;
    case "heartbeat":
      return !stale && (model.status === "accepted" || model.status === "running")
        ? model.status
        : undefined;
    case "lapse":
      if (model.status !== "accepted" && model.status !== "running") return undefined;
      return model.attempt < model.maxAttempts ? "pending" : "failed";
    default:
      // A wrong attempt is refused even where the status would allow the change; no attempt
      // at all applies the call to the current one.
      return executorCallOk(action.kind);
  }
}

/** Performs the action; answers the HTTP status and, for a refusal, its problem code. */
async function perform(
  real: Real,
  model: Model,
  action: Action,
): Promise<{ status: number; code?: string }> {
  const { env, jobId } = real;
  const attempt = sentAttempt(model, action);
  const provider = { key: env.provider.key };
  const answer = (res: { status: number; body: { code?: string } }) => ({
    status: res.status,
    code: res.body?.code,
  });
  switch (action.kind) {
    case "cancel":
      return answer(await env.call("POST", `/v1/jobs/${jobId}/cancel`, { key: env.buyer.key }));
    case "complete":
      return answer(
        await env.call("POST", `/v1/executor/jobs/${jobId}/complete`, {
          ...provider,
          body: { attempt },
        }),
      );
    case "heartbeat":
      return answer(
        await env.call("POST", `/v1/executor/jobs/${jobId}/heartbeat`, {
          ...provider,
          body: { attempt },
        }),
      );
    case "lapse":
      await env.database.db.query(
        "UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE job_id = $1",
        [jobId],
      );
      return (await reclaimLapsedLeases(env.database.db)).length > 0
        ? { status: 200 }
        : { status: 409, code: "INVALID_TRANSITION" };
    default: {
      const body: Record<string, unknown> = { status: action.kind, attempt };
      if (action.kind === "running") body.progress = Math.floor(Math.random() * 101);
      return answer(
        await env.call("POST", `/v1/executor/jobs/${jobId}/status`, { ...provider, body }),
      );
    }
  }
}

const actions: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("accepted", "rejected", "running", "failed", "complete", "heartbeat"),
    delta: fc.constantFrom(0, 0, 0, -1, 1, null),
  }) as fc.Arbitrary<Action>,
  fc.constant<Action>({ kind: "cancel" }),
  fc.constant<Action>({ kind: "lapse" }),
);

describe("the job state machine, through the HTTP API", () => {
  const env = useTestEnv();

  it("only documented transitions happen; terminal states absorb; attempts stay within max; stale calls change nothing; every change is one event", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actions, { minLength: 1, maxLength: 14 }), async (plan) => {
        const created = await orderJob(env);
        const real: Real = { env, jobId: created.job_id, events: 1 };
        const model: Model = { status: "pending", attempt: 1, maxAttempts: created.max_attempts };
        for (const action of plan) {
          const before = await snapshot(real);
          const expected = predict(model, action);
          const { status, code } = await perform(real, model, action);
          const after = await snapshot(real);
          const context = JSON.stringify({ action, model, status, code });
          // Terminal states absorb: whatever is tried, nothing changes any more.
          if (isTerminal(before.status)) expect(after, context).toEqual(before);
          if (expected === undefined) {
            expect(status, context).toBe(409);
            expect(REFUSALS, context).toContain(code);
            expect(after, context).toEqual(before);
            continue;
          }
          expect(status, context).toBe(200);
          if (action.kind === "lapse" && expected === "pending") model.attempt += 1;
          model.status = expected;
          expect({ status: after.status, attempt: after.attempt }).toEqual({
            status: model.status,
            attempt: model.attempt,
          });
          // A heartbeat changes no status or progress: no event. Everything else is one event
          // (a progress report of the same value is no change either).
          expect(after.events - before.events).toBeLessThanOrEqual(1);
          if (action.kind !== "heartbeat" && action.kind !== "running")
            expect(after.events).toBe(before.events + 1);
          expect(after.attempt).toBeLessThanOrEqual(model.maxAttempts);
        }
      }),
      { numRuns: 200 },
    );
  }, 300_000);
});
