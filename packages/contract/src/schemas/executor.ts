import { z } from "zod";
import { FAILURE_CODE_VALUES } from "../lifecycle.ts";
import { queryInt, Text, Timestamp, Uuid } from "./common.ts";
import { DownloadableFile, Job, JobStatusSchema } from "./jobs.ts";

/** Headers every executor call may carry, to identify the executor instance. */
export const ExecutorHeaders = z.object({
  "agnt-executor-id": z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
    .optional()
    .describe(
      "A stable id of the executor instance (e.g. host name + process). Recorded for executors_online.",
    ),
  "agnt-executor-version": z
    .string()
    .min(1)
    .max(100)
    .regex(/^[\x20-\x7e]+$/, "printable ASCII")
    .optional()
    .describe("The executor's software version."),
});
export type ExecutorHeaders = z.infer<typeof ExecutorHeaders>;

/**
 * The job's attempt an executor call is about (fencing). Optional on the wire, so clients written
 * to the original specification work: a call without it applies to whatever attempt is current
 * (unfenced). The agnt executor SDK always sends it.
 */
export const Attempt = z
  .int()
  .min(1)
  .max(1000)
  .describe(
    "The job's attempt this call is about (from the accept response). A call from an older attempt is refused with 409 ATTEMPT_MISMATCH. Optional: without it the call applies to the current attempt, unfenced.",
  );

export const HeartbeatRequest = z
  .strictObject({
    attempt: Attempt.optional(),
    progress: z.int().min(0).max(100).optional().describe("Percent done; only while running."),
    message: Text(0, 1000).optional().describe("What the executor is doing; only while running."),
  })
  .meta({ id: "HeartbeatRequest" });
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

/** What a poll for pending jobs does with the jobs it hands out (`claim`). */
export const POLL_CLAIMS = ["none", "reserve", "accept", "start"] as const;
export type PollClaim = (typeof POLL_CLAIMS)[number];

export const ExecutorJobsQuery = z.strictObject({
  agent_id: Uuid.optional().describe(
    "Only this agent's jobs (it must be yours). Default: all your agents.",
  ),
  status: JobStatusSchema.default("pending"),
  limit: queryInt(1, 100)
    .default(10)
    .describe("At most this many jobs; ask for as many as you can take on now."),
  wait: queryInt(0, 60)
    .default(0)
    .describe("Hold the request until at least one job matches or this many seconds pass (0..60)."),
  claim: z
    .enum(POLL_CLAIMS)
    .default("reserve")
    .describe(
      "What a poll for `pending` jobs does with the jobs it hands out. `reserve` (default): reserves them for this executor (AGNT_RESERVATION_SECONDS, 30 s by default), so that no other poll is handed them meanwhile — executors polling together never race for a job; accept or reject each in time (an unanswered reservation lapses and the job goes to another executor; with `Agnt-Executor-Id` your next poll hands your reserved jobs back to you). `accept`: accepts them for you at once — each comes back `accepted`, with its lease and `attempt` — for executors that take every job they are handed. `start`: accepts and starts them at once: each comes back `running` (its history records both steps). Accepted or started jobs whose answer never reaches you come back to the queue when their lease lapses. `none`: only looks. Other statuses are only looked at.",
    ),
});
export type ExecutorJobsQuery = z.infer<typeof ExecutorJobsQuery>;

export const ExecutorJobList = z
  .object({
    jobs: z.array(Job).describe("Oldest first."),
    reserved_until: Timestamp.nullable().describe(
      "Until when the pending jobs handed out are reserved for you (null when nothing was reserved).",
    ),
  })
  .meta({ id: "ExecutorJobList" });
export type ExecutorJobList = z.infer<typeof ExecutorJobList>;

export const EXECUTOR_STATUS_TARGETS = ["accepted", "rejected", "running", "failed"] as const;

export const StatusUpdateRequest = z
  .strictObject({
    status: z
      .enum(EXECUTOR_STATUS_TARGETS)
      .describe(
        "`accepted`/`rejected` from pending, `running` from accepted (or again, to report progress), `failed` from accepted or running. Complete with POST …/complete.",
      ),
    attempt: Attempt.optional(),
    progress: z.int().min(0).max(100).optional().describe("Percent done; only with `running`."),
    message: Text(0, 1000).optional().describe("What the executor is doing; only with `running`."),
    reason: Text(0, 2000).optional().describe("Why; with `rejected` or `failed`."),
    failure_code: z
      .enum(FAILURE_CODE_VALUES)
      .optional()
      .describe(
        "With `failed`; default `executor_error`. `expired` and `lease_lost` are the API's own (422).",
      ),
  })
  .superRefine((body, ctx) => {
    const fail = (path: string, message: string) =>
      ctx.addIssue({ code: "custom", path: [path], message });
    if (body.status !== "running") {
      if (body.progress !== undefined)
        fail("progress", "progress is only allowed with status running");
      if (body.message !== undefined)
        fail("message", "message is only allowed with status running");
    }
    if (body.status !== "rejected" && body.status !== "failed" && body.reason !== undefined) {
      fail("reason", "reason is only allowed with status rejected or failed");
    }
    if (body.status !== "failed" && body.failure_code !== undefined) {
      fail("failure_code", "failure_code is only allowed with status failed");
    }
  })
  .meta({ id: "StatusUpdateRequest" });
export type StatusUpdateRequest = z.infer<typeof StatusUpdateRequest>;

/** The claims a completion can take the next job with (`next`). */
export const NEXT_CLAIMS = ["accept", "start"] as const satisfies readonly PollClaim[];
export type NextClaim = (typeof NEXT_CLAIMS)[number];

export const CompleteJobQuery = z.strictObject({
  attempt: queryInt(1, 1000)
    .optional()
    .describe(
      "The job's attempt. With multipart bodies, giving it here lets the API refuse a stale attempt before reading any byte of the upload; an `attempt` field, if sent too, must agree.",
    ),
  next: z
    .enum(NEXT_CLAIMS)
    .optional()
    .describe(
      "Also take the agent's next pending job for this executor, in the same transaction as the completion — as a poll with `claim=accept` or `claim=start` and `limit=1` would. It comes back in `next_jobs` (empty when none is pending: then long-poll as usual). Saves a poll per job for an executor working through a queue.",
    ),
});

export const CompletedJob = Job.extend({
  next_jobs: z
    .array(Job)
    .optional()
    .describe("With `?next=`: the job taken next (at most one), accepted or running; else absent."),
}).meta({ id: "CompletedJob" });
export type CompletedJob = z.infer<typeof CompletedJob>;

export const JobInputs = z
  .object({
    job_id: Uuid,
    files: z
      .array(DownloadableFile)
      .describe("The job's input files, by path, with fresh download URLs."),
  })
  .meta({ id: "JobInputs" });
export type JobInputs = z.infer<typeof JobInputs>;

export const CompleteJobRequest = z
  .strictObject({
    attempt: Attempt.optional(),
  })
  .meta({ id: "CompleteJobRequest" });
export type CompleteJobRequest = z.infer<typeof CompleteJobRequest>;
