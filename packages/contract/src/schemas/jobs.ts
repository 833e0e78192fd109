import { z } from "zod";
import { ACTORS, FAILURE_CODE_VALUES, JOB_STATUSES } from "../lifecycle.ts";
import {
  InputJsonObject,
  JsonObject,
  queryInt,
  queryList,
  Text,
  Timestamp,
  Uuid,
} from "./common.ts";

export const JobStatusSchema = z.enum(JOB_STATUSES).meta({ id: "JobStatus" });
export const FailureCodeSchema = z.enum(FAILURE_CODE_VALUES).meta({ id: "FailureCode" });

export const MAX_PROMPT_CHARS = 100_000;

export const CreateJobRequest = z
  .strictObject({
    agent_id: Uuid,
    prompt: Text(1, MAX_PROMPT_CHARS).describe("What the buyer wants done."),
    params: InputJsonObject.default({}).describe("Checked against the agent's input_schema."),
    timeout_seconds: z
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional()
      .describe(
        "Run timeout: the job fails with `timed_out` this long after an executor accepts it. Default: the agent's default_timeout_seconds (none when unset); at most its max_timeout_seconds.",
      ),
    expires_in_seconds: z
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .optional()
      .describe(
        "Queue deadline: a job no executor accepted within this many seconds fails with `expired`.",
      ),
  })
  .meta({ id: "CreateJobRequest" });
export type CreateJobRequest = z.infer<typeof CreateJobRequest>;

export const CreateJobHeaders = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
    .optional()
    .describe(
      "Optional. The same key and body within 24 hours returns the original job instead of creating another; the same key with another body is refused with 422. Scoped per buyer.",
    ),
});

/** A file attached to a job, as listed in the job itself. */
export const InputFile = z
  .object({
    path: z.string().describe("Relative path as uploaded, e.g. `src/parser.ts`."),
    size_bytes: z.int().min(0),
    mime_type: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .meta({ id: "InputFile" });
export type InputFile = z.infer<typeof InputFile>;

const nullableSeconds = (description: string) => z.number().min(0).nullable().describe(description);

/** A job, as buyers and the agent's executors see it. */
export const Job = z
  .object({
    job_id: Uuid,
    agent_id: Uuid,
    status: JobStatusSchema,
    prompt: z.string(),
    params: JsonObject,
    progress: z
      .int()
      .min(0)
      .max(100)
      .nullable()
      .describe("Percent done, as last reported while running."),
    progress_message: z
      .string()
      .nullable()
      .describe("What the executor said it is doing, as last reported."),
    decision_reason: z
      .string()
      .nullable()
      .describe("Why the job was rejected, failed or canceled, in words."),
    failure_code: FailureCodeSchema.nullable().describe("Set when status is `failed`."),
    attempt: z
      .int()
      .min(1)
      .describe("Which attempt at the job this is (1 first). Executor calls must carry it."),
    max_attempts: z.int().min(1),
    created_at: Timestamp,
    accepted_at: Timestamp.nullable().describe("When an executor accepted the current attempt."),
    started_at: Timestamp.nullable().describe("When the current attempt started running."),
    updated_at: Timestamp.describe("When anything about the job last changed."),
    completed_at: Timestamp.nullable().describe(
      "When the job reached its final status (completed, failed, rejected or canceled).",
    ),
    duration_seconds: nullableSeconds(
      "Turnaround: created_at → completed_at, queue time included. Null until the job is finished.",
    ),
    run_seconds: nullableSeconds(
      "Run time: started_at → completed_at. Null until a job that ran is finished.",
    ),
    timeout_seconds: z
      .int()
      .nullable()
      .describe("Run timeout in seconds, counted from acceptance; null: none."),
    expires_at: Timestamp.nullable().describe(
      "Queue deadline: fails with `expired` if still pending then.",
    ),
    lease_expires_at: Timestamp.nullable().describe(
      "While accepted or running: when the executor's lease lapses unless renewed (status, progress or heartbeat calls).",
    ),
    input_files: z
      .array(InputFile)
      .describe(
        "Files the buyer attached to the order, by path. Executors download them from …/inputs.",
      ),
  })
  .meta({ id: "Job" });
export type Job = z.infer<typeof Job>;

export const JobIdParams = z.strictObject({ job_id: Uuid });

export const GetJobQuery = z.strictObject({
  wait: queryInt(0, 60)
    .default(0)
    .describe("Hold the request until the job is finished or this many seconds pass (0..60)."),
});

export const ListJobsQuery = z.strictObject({
  agent_id: Uuid.optional(),
  status: queryList(JobStatusSchema, JOB_STATUSES.length)
    .optional()
    .describe("Repeatable: jobs in any of the given statuses."),
  limit: queryInt(1, 100).default(20),
  offset: queryInt(0, 1_000_000).default(0),
});
export type ListJobsQuery = z.infer<typeof ListJobsQuery>;

export const JobList = z
  .object({
    jobs: z.array(Job),
    total: z.int().describe("Number of jobs matching the filters, regardless of limit and offset."),
  })
  .meta({ id: "JobList" });
export type JobList = z.infer<typeof JobList>;

export const CancelJobRequest = z
  .strictObject({
    reason: Text(0, 2000).optional().describe("Kept as the job's decision_reason."),
  })
  .meta({ id: "CancelJobRequest" });

/** A stored file with a short-lived download URL (result files, and input files for executors). */
export const DownloadableFile = z
  .object({
    path: z.string().describe("Relative path, e.g. `out/report.md`; folders are kept."),
    size_bytes: z.int().min(0),
    mime_type: z.string(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .describe("SHA-256 of the content, hex; verify downloads against it."),
    download_url: z
      .string()
      .nullable()
      .describe("Short-lived URL (a fresh one on every call); null once the file has expired."),
    expires_at: Timestamp.nullable().describe("When download_url stops working."),
    expired_at: Timestamp.nullable().describe(
      "When retention deleted the file (AGNT_RESULT_RETENTION_DAYS); null while it is kept.",
    ),
  })
  .meta({ id: "DownloadableFile" });
export type DownloadableFile = z.infer<typeof DownloadableFile>;

export const JobResult = z
  .object({
    job_id: Uuid,
    status: JobStatusSchema,
    files: z.array(DownloadableFile),
  })
  .meta({ id: "JobResult" });
export type JobResult = z.infer<typeof JobResult>;

/** One entry of a job's history, as the event stream sends it. */
export const JobEvent = z
  .object({
    event_id: z.int().describe("Increasing id; send it back as Last-Event-ID to resume."),
    job_id: Uuid,
    attempt: z.int(),
    from_status: JobStatusSchema.nullable().describe("Null for the job's creation."),
    to_status: JobStatusSchema,
    actor: z.enum(ACTORS),
    progress: z.int().nullable(),
    message: z.string().nullable(),
    reason: z.string().nullable(),
    failure_code: FailureCodeSchema.nullable(),
    at: Timestamp,
  })
  .meta({ id: "JobEvent" });
export type JobEvent = z.infer<typeof JobEvent>;

export const JobEventsHeaders = z.object({
  "last-event-id": z
    .string()
    .regex(/^\d{1,15}$/, "an event_id")
    .optional()
    .describe("Resume after this event (browsers' EventSource sends it when reconnecting)."),
});

/**
 * The Server-Sent Events of `GET /v1/jobs/{job_id}/events`, by event name, with the schema of
 * their data: a `status` event for each change of status, a `progress` event for each progress
 * report (the status stays), then one `end` event with the finished job, after which the
 * stream closes.
 */
export const JobStreamEvents = { status: JobEvent, progress: JobEvent, end: Job } as const;
export type JobStreamEventName = keyof typeof JobStreamEvents;

/** The stream event a recorded change is sent as. */
export function jobEventName(
  event: Pick<JobEvent, "from_status" | "to_status">,
): "status" | "progress" {
  return event.from_status === event.to_status ? "progress" : "status";
}
