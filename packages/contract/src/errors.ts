/**
 * Every error code the API answers with: one closed set, listed once.
 * `docs/errors.md` is generated from this table.
 */

export interface ErrorCodeInfo {
  /** The HTTP status the code is always sent with. */
  status: number;
  /** The problem's short, stable title. */
  title: string;
  /** What happened. */
  meaning: string;
  /** What a client should do about it. */
  action: string;
}

export const ERROR_CODES = {
  VALIDATION_FAILED: {
    status: 400,
    title: "Request validation failed",
    meaning:
      "A path parameter, query parameter, header or JSON body field is missing, has the wrong type, is out of range, or is not part of the schema. `errors` lists each field.",
    action: "Fix the fields named in `errors` and send the request again.",
  },
  MALFORMED_JSON: {
    status: 400,
    title: "Malformed JSON body",
    meaning: "The body is not valid JSON (or is empty where a JSON body is required).",
    action: "Send a valid JSON document with `Content-Type: application/json`.",
  },
  MALFORMED_MULTIPART: {
    status: 400,
    title: "Malformed multipart body",
    meaning: "The multipart/form-data body could not be parsed or lacks a required part.",
    action: "Send a well-formed multipart/form-data body with the documented parts.",
  },
  UNAUTHENTICATED: {
    status: 401,
    title: "Missing or invalid API key",
    meaning:
      "No API key was sent, or the key is malformed, unknown or revoked. Keys go in `Authorization: Bearer <key>` or `X-API-Key`.",
    action: "Send a valid, unrevoked key. Ask an admin for a new key if yours was revoked.",
  },
  FORBIDDEN: {
    status: 403,
    title: "Wrong role for this route",
    meaning:
      "The key is valid but its account's role may not use this route (buyer routes need a buyer key, executor routes a provider key, admin routes an admin key).",
    action: "Use a key of the role the route documents.",
  },
  AGENT_NOT_OWNED: {
    status: 403,
    title: "Agent belongs to another provider",
    meaning: "The provider key does not own the agent named in the request.",
    action: "Use the key of the provider that owns the agent.",
  },
  DOWNLOAD_URL_INVALID: {
    status: 403,
    title: "Download URL not valid",
    meaning: "The download token was altered or was not issued by this API.",
    action: "Ask for fresh URLs (GET /v1/jobs/{job_id}/result or …/inputs).",
  },
  NOT_FOUND: {
    status: 404,
    title: "No such route",
    meaning: "No route matches this method and path.",
    action: "Check the method and path against the API reference at /docs.",
  },
  AGENT_NOT_FOUND: {
    status: 404,
    title: "Agent not found",
    meaning: "No agent has this id.",
    action: "Search the catalogue for a valid agent_id.",
  },
  JOB_NOT_FOUND: {
    status: 404,
    title: "Job not found",
    meaning:
      "No job with this id is visible to the caller: it does not exist, or it belongs to another buyer (or, for executors, to another provider's agent).",
    action: "Check the job_id; list your jobs with GET /v1/jobs.",
  },
  FILE_NOT_FOUND: {
    status: 404,
    title: "File not found",
    meaning: "The file behind a valid download URL no longer exists (deleted by retention).",
    action: "Check the manifest's `expired_at`; the file cannot be downloaded any more.",
  },
  KEY_NOT_FOUND: {
    status: 404,
    title: "API key not found",
    meaning: "No API key has this id.",
    action: "Check the key_id returned when the key was created.",
  },
  ACCOUNT_NOT_FOUND: {
    status: 404,
    title: "Account not found",
    meaning: "No account has this id.",
    action: "Check the account_id returned when the account's first key was created.",
  },
  INVALID_TRANSITION: {
    status: 409,
    title: "Transition not allowed",
    meaning:
      "The job's current status does not allow the requested change (for example completing a job that is not running, or cancelling a finished job). `detail` names both statuses.",
    action: "Fetch the job to see its status; do not retry the same change.",
  },
  ATTEMPT_MISMATCH: {
    status: 409,
    title: "Stale attempt",
    meaning:
      "The call carries an `attempt` that is not the job's current attempt: the job was handed to another attempt. Nothing was changed.",
    action: "Stop working on this job; its current attempt belongs to someone else.",
  },
  JOB_CANCELED: {
    status: 409,
    title: "Job was canceled",
    meaning: "The buyer canceled the job. Nothing was changed.",
    action: "Executors: stop working on the job and discard its work.",
  },
  INPUTS_NOT_AVAILABLE: {
    status: 409,
    title: "Inputs not available",
    meaning: "A job's input files are handed out while the job is accepted or running.",
    action: "Accept the job first; do not fetch inputs of finished jobs.",
  },
  JOB_TIMED_OUT: {
    status: 409,
    title: "Job timed out",
    meaning:
      "The job ran past its run timeout and failed with failure_code `timed_out`. Nothing was changed.",
    action: "Executors: stop working on the job and discard its work.",
  },
  LEASE_LOST: {
    status: 409,
    title: "Lease lost",
    meaning:
      "The executor stopped renewing its lease (status, progress or heartbeat calls) in time; the job was failed with `lease_lost` after its last attempt. Nothing was changed.",
    action: "Executors: stop working on the job; renew leases more often than AGNT_LEASE_SECONDS.",
  },
  RESULT_NOT_READY: {
    status: 409,
    title: "Result not available",
    meaning: "The job has not completed, so it has no result. `detail` names its status.",
    action: "Wait for the job (GET /v1/jobs/{job_id}?wait=60) and ask again once it is completed.",
  },
  FILE_TOO_LARGE: {
    status: 413,
    title: "File too large",
    meaning:
      "An uploaded file exceeds the per-file limit (AGNT_MAX_UPLOAD_FILE_BYTES). Nothing of the request was stored; the job is unchanged.",
    action:
      "Send smaller files (split or compress them); the limit is named in `detail`. The request can be retried.",
  },
  TOO_MANY_FILES: {
    status: 413,
    title: "Too many files",
    meaning:
      "The request carries more files than allowed (AGNT_MAX_UPLOAD_FILES). Nothing was stored; the job is unchanged.",
    action: "Send fewer files, for example as one archive.",
  },
  UPLOAD_TOO_LARGE: {
    status: 413,
    title: "Files too large in total",
    meaning:
      "The files of the request exceed the per-job limit (AGNT_MAX_UPLOAD_JOB_BYTES). Nothing was stored; the job is unchanged.",
    action: "Send less data; the limit is named in `detail`.",
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    title: "Request body too large",
    meaning: "The body exceeds the configured limit. Nothing was stored.",
    action: "Send a smaller body; the limit is named in `detail`.",
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: "Unsupported content type",
    meaning: "The route does not accept the body's Content-Type.",
    action: "Send `application/json` (or `multipart/form-data` where the route documents it).",
  },
  DOWNLOAD_URL_EXPIRED: {
    status: 410,
    title: "Download URL expired",
    meaning: "The download URL's lifetime (AGNT_DOWNLOAD_URL_TTL_SECONDS) has passed.",
    action: "Ask for fresh URLs; each call mints new ones.",
  },
  PARAMS_INVALID: {
    status: 422,
    title: "Params do not match the agent's input schema",
    meaning:
      "`params` fails the agent's `input_schema` (JSON Schema). `errors` lists each failing field.",
    action: "Read the agent's input_schema (GET /v1/agents/{agent_id}) and fix the fields named.",
  },
  FILE_NAME_INVALID: {
    status: 422,
    title: "File name refused",
    meaning:
      "A file part's name is not a safe relative path (`..`, absolute paths, drive letters, backslashes, NUL, control or bidi characters, reserved device names, …). `detail` names the file and the rule. Nothing was stored.",
    action: "Name files with plain relative paths such as `out/report.md`.",
  },
  FILE_PATH_DUPLICATE: {
    status: 422,
    title: "Two files with one path",
    meaning: "Two file parts of the request have the same name. Nothing was stored.",
    action: "Give every file its own path.",
  },
  TIMEOUT_NOT_ALLOWED: {
    status: 422,
    title: "Timeout above the agent's maximum",
    meaning: "`timeout_seconds` exceeds the agent's `max_timeout_seconds`.",
    action: "Ask for at most the agent's max_timeout_seconds (see the agent card).",
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    title: "Idempotency key reused with a different request",
    meaning: "The Idempotency-Key was used within the last 24 hours with a different request body.",
    action: "Use a fresh key for a different request, or resend the original body.",
  },
  INVALID_FAILURE_CODE: {
    status: 422,
    title: "Failure code not allowed",
    meaning: "The failure code is reserved for the API itself (expired, lease_lost).",
    action: "Report one of the failure codes documented as settable by executors.",
  },
  ROLE_MISMATCH: {
    status: 422,
    title: "Role does not match the account",
    meaning: "A key was requested for an existing account with a role other than the account's.",
    action: "Omit `role`, or give the account's own role.",
  },
  INTERNAL: {
    status: 500,
    title: "Internal error",
    meaning: "The API failed unexpectedly. The error is logged with the request id.",
    action: "Retry later; report the `request_id` if it persists.",
  },
  STORAGE_UNAVAILABLE: {
    status: 503,
    title: "File storage unavailable",
    meaning: "The object store did not answer or refused the request. Nothing was stored.",
    action: "Retry with backoff.",
  },
  SERVICE_UNAVAILABLE: {
    status: 503,
    title: "Service unavailable",
    meaning: "The API cannot reach its database right now.",
    action: "Retry with backoff.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ERROR_CODE_VALUES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/** The problem `type` URI for an error code (a URN: stable, resolvable through docs/errors.md). */
export function problemType(code: ErrorCode): string {
  return `urn:agnt:error:${code.toLowerCase().replaceAll("_", "-")}`;
}
