import type { FailureCode, InputFile, Job, JobStatus } from "@agnt/contract";

/** A job row as every job query selects it (`JOB_COLUMNS`). */
export interface JobRow {
  job_id: string;
  agent_id: string;
  provider_account_id: string;
  status: JobStatus;
  prompt: string;
  params: Record<string, unknown>;
  progress: number | null;
  progress_message: string | null;
  decision_reason: string | null;
  failure_code: FailureCode | null;
  attempt: number;
  max_attempts: number;
  created_at: Date;
  accepted_at: Date | null;
  started_at: Date | null;
  updated_at: Date;
  completed_at: Date | null;
  duration_seconds: number | null;
  run_seconds: number | null;
  timeout_seconds: number | null;
  expires_at: Date | null;
  lease_expires_at: Date | null;
  input_files: InputFile[];
  /** The transaction that wrote the row, when this statement wrote it (null on reads). */
  xid: string | null;
}

/** The select list of a job; durations are computed by the database, on its clock. */
export const JOB_COLUMNS = `job_id, agent_id, provider_account_id, status, prompt, params, progress,
  progress_message, decision_reason, failure_code, attempt, max_attempts, created_at, accepted_at,
  started_at, updated_at, completed_at,
  extract(epoch FROM completed_at - created_at)::float8 AS duration_seconds,
  extract(epoch FROM completed_at - started_at)::float8 AS run_seconds,
  timeout_seconds, expires_at, lease_expires_at,
  (SELECT COALESCE(json_agg(json_build_object('path', i.path, 'size_bytes', i.size_bytes,
            'mime_type', i.mime_type, 'sha256', i.sha256) ORDER BY i.path), '[]'::json)
   FROM job_inputs i WHERE i.job_id = jobs.job_id) AS input_files,
  pg_current_xact_id_if_assigned()::text AS xid`;

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/** The job as the contract shapes it. */
export function toJob(row: JobRow): Job {
  return {
    job_id: row.job_id,
    agent_id: row.agent_id,
    status: row.status,
    prompt: row.prompt,
    params: row.params,
    progress: row.progress,
    progress_message: row.progress_message,
    decision_reason: row.decision_reason,
    failure_code: row.failure_code,
    attempt: row.attempt,
    max_attempts: row.max_attempts,
    created_at: row.created_at.toISOString(),
    accepted_at: iso(row.accepted_at),
    started_at: iso(row.started_at),
    updated_at: row.updated_at.toISOString(),
    completed_at: iso(row.completed_at),
    duration_seconds: row.duration_seconds,
    run_seconds: row.run_seconds,
    timeout_seconds: row.timeout_seconds,
    expires_at: iso(row.expires_at),
    lease_expires_at: iso(row.lease_expires_at),
    input_files: row.input_files,
  };
}
