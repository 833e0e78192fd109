import { ERROR_CODES, type ErrorCode, problemType } from "@agnt/contract";
import { expect } from "vitest";
import type { CallResult, TestEnv } from "./harness.ts";

/**
 * Asserts a complete RFC 9457 problem document: the code's status, type and title (or, given
 * a status, any documented code of that status), a detail, the instance path and the request
 * id, which must match the x-request-id header.
 */
export function expectProblem(res: CallResult, expected: ErrorCode | number): void {
  const status = typeof expected === "number" ? expected : ERROR_CODES[expected].status;
  expect(res.status, res.text).toBe(status);
  expect(String(res.headers["content-type"]), res.text).toMatch(/^application\/problem\+json/);
  const body = res.body;
  const known = ERROR_CODES[body?.code as ErrorCode];
  expect(known, res.text).toBeDefined();
  if (typeof expected === "string") expect(body.code, res.text).toBe(expected);
  expect(known.status).toBe(status);
  expect(body, res.text).toMatchObject({
    type: problemType(body.code),
    title: known.title,
    status,
    detail: expect.stringMatching(/\S/),
    instance: expect.stringMatching(/^\//),
    request_id: expect.any(String),
  });
  expect(res.headers["x-request-id"]).toBe(body.request_id);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves once `predicate` holds (checked every few milliseconds); throws after `timeoutMs`.
 * Tests count events with it instead of sleeping a fixed time.
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await sleep(5);
  }
}

export interface JobSnapshot {
  status: string;
  events: number;
  [column: string]: unknown;
}

/** Everything about a job a refused call must leave alone, plus its number of events. */
export async function jobSnapshot(env: TestEnv, jobId: string): Promise<JobSnapshot> {
  const { rows } = await env.database.db.query<JobSnapshot>(
    `SELECT status, attempt, progress, progress_message, decision_reason, failure_code,
            accepted_at::text AS accepted_at, started_at::text AS started_at,
            updated_at::text AS updated_at, completed_at::text AS completed_at,
            (SELECT count(*)::int FROM job_events e WHERE e.job_id = j.job_id) AS events
     FROM jobs j WHERE job_id = $1`,
    [jobId],
  );
  const row = rows[0];
  if (!row) throw new Error(`no job ${jobId}`);
  return row;
}
