import type { z } from "zod";
import type { ErrorCode } from "./errors.ts";
import {
  ApiKeyInfo,
  CreatedKey,
  CreateKeyRequest,
  Health,
  KeyIdParams,
  Ready,
  type Role,
} from "./schemas/admin.ts";
import {
  Agent,
  AgentIdParams,
  AgentList,
  AgentStats,
  SearchAgentsQuery,
} from "./schemas/agents.ts";
import {
  CompletedJob,
  CompleteJobQuery,
  CompleteJobRequest,
  ExecutorHeaders,
  ExecutorJobList,
  ExecutorJobsQuery,
  HeartbeatRequest,
  JobInputs,
  StatusUpdateRequest,
} from "./schemas/executor.ts";
import { FileContent, FileTokenParams } from "./schemas/files.ts";
import {
  CancelJobRequest,
  CreateJobHeaders,
  CreateJobRequest,
  GetJobQuery,
  Job,
  JobEvent,
  JobEventsHeaders,
  JobIdParams,
  JobList,
  JobResult,
  JobStreamEvents,
  ListJobsQuery,
} from "./schemas/jobs.ts";

export type HttpMethod = "GET" | "POST";

/**
 * One part of a multipart/form-data body. `body`: the route's whole JSON body as one part.
 * `field`: the body field of the same name, as text (`attempt=2`). `files`: repeatable file
 * parts. Body and field parts come before the files; either may also be sent as a file part
 * (`curl -F 'job=@job.json;type=application/json'`, `FormData.append("job", blob)`).
 */
export interface MultipartPart {
  kind: "body" | "field" | "files";
  required: boolean;
  description: string;
}

const FILE_PARTS: MultipartPart = {
  kind: "files",
  required: false,
  description:
    "Repeatable. Each part's file name is the file's relative path (`out/report.md`), kept as is; unsafe names are refused with 422. Size and SHA-256 are computed while streaming.",
};

/** What an executor's call on a job it holds can be refused with. */
const HELD_JOB_ERRORS = [
  "JOB_NOT_FOUND",
  "INVALID_TRANSITION",
  "ATTEMPT_MISMATCH",
  "JOB_CANCELED",
  "JOB_TIMED_OUT",
  "LEASE_LOST",
] as const;

const UPLOAD_ERRORS = [
  "MALFORMED_MULTIPART",
  "FILE_NAME_INVALID",
  "FILE_PATH_DUPLICATE",
  "FILE_TOO_LARGE",
  "TOO_MANY_FILES",
  "UPLOAD_TOO_LARGE",
  "STORAGE_UNAVAILABLE",
] as const;

/** One route of the API: everything the server, the client and the OpenAPI document need. */
export interface RouteDef {
  method: HttpMethod;
  /** OpenAPI-style path: `/v1/jobs/{job_id}`. */
  path: string;
  summary: string;
  description?: string;
  tag: "agents" | "jobs" | "executor" | "files" | "admin" | "system";
  /** The role whose key the route requires; null for open routes. */
  auth: Role | null;
  params?: z.ZodType;
  query?: z.ZodType;
  headers?: z.ZodType;
  /** JSON body schema. */
  body?: z.ZodType;
  /** The route also takes multipart/form-data with these parts, in this order. */
  multipart?: Record<string, MultipartPart>;
  /** The body may be left out entirely (it then parses as `{}`). */
  bodyOptional?: boolean;
  /**
   * `binary`: the body is the file itself, not JSON. `events`: the body is a Server-Sent Events
   * stream; each event name maps to the schema of its data (`schema` is the main one).
   */
  response: {
    status: 200 | 201;
    schema: z.ZodType;
    binary?: boolean;
    events?: Record<string, z.ZodType>;
  };
  /** Errors specific to this route; see `routeErrors` for the full list. */
  errors: readonly ErrorCode[];
}

const route = <T extends RouteDef>(def: T): T => def;

/** The route table: every route of the API, by operation id. */
export const routes = {
  health: route({
    method: "GET",
    path: "/health",
    summary: "Liveness: the process is up (no key, no database).",
    tag: "system",
    auth: null,
    response: { status: 200, schema: Health },
    errors: [],
  }),
  ready: route({
    method: "GET",
    path: "/ready",
    summary: "Readiness: the database answers.",
    tag: "system",
    auth: null,
    response: { status: 200, schema: Ready },
    errors: ["SERVICE_UNAVAILABLE"],
  }),
  searchAgents: route({
    method: "GET",
    path: "/v1/agents/search",
    summary: "Search the agent catalogue.",
    description:
      "Full-text search over name, description and tags, ranked by relevance when `q` is given and newest first otherwise. Every `tag` given must be carried. Order is stable (ties broken by agent_id), so pages never overlap.",
    tag: "agents",
    auth: "buyer",
    query: SearchAgentsQuery,
    response: { status: 200, schema: AgentList },
    errors: [],
  }),
  getAgent: route({
    method: "GET",
    path: "/v1/agents/{agent_id}",
    summary: "The agent card.",
    tag: "agents",
    auth: "buyer",
    params: AgentIdParams,
    response: { status: 200, schema: Agent },
    errors: ["AGENT_NOT_FOUND"],
  }),
  getAgentStats: route({
    method: "GET",
    path: "/v1/agents/{agent_id}/stats",
    summary: "The agent's track record.",
    tag: "agents",
    auth: "buyer",
    params: AgentIdParams,
    response: { status: 200, schema: AgentStats },
    errors: ["AGENT_NOT_FOUND"],
  }),
  createJob: route({
    method: "POST",
    path: "/v1/jobs",
    summary: "Order a job from an agent.",
    description:
      "`params` is validated against the agent's input_schema. With an `Idempotency-Key`, retries of the same request return the original job. To attach input files, send multipart/form-data: first a `job` part holding the JSON body, then `files` parts.",
    tag: "jobs",
    auth: "buyer",
    headers: CreateJobHeaders,
    body: CreateJobRequest,
    multipart: {
      job: {
        kind: "body",
        required: true,
        description: "The JSON body (CreateJobRequest). Comes first.",
      },
      files: FILE_PARTS,
    },
    response: { status: 201, schema: Job },
    errors: [
      "AGENT_NOT_FOUND",
      "PARAMS_INVALID",
      "TIMEOUT_NOT_ALLOWED",
      "IDEMPOTENCY_KEY_REUSED",
      ...UPLOAD_ERRORS,
    ],
  }),
  listJobs: route({
    method: "GET",
    path: "/v1/jobs",
    summary: "Your jobs, newest first.",
    tag: "jobs",
    auth: "buyer",
    query: ListJobsQuery,
    response: { status: 200, schema: JobList },
    errors: [],
  }),
  getJob: route({
    method: "GET",
    path: "/v1/jobs/{job_id}",
    summary: "One of your jobs; `wait` holds until it is finished.",
    tag: "jobs",
    auth: "buyer",
    params: JobIdParams,
    query: GetJobQuery,
    response: { status: 200, schema: Job },
    errors: ["JOB_NOT_FOUND"],
  }),
  cancelJob: route({
    method: "POST",
    path: "/v1/jobs/{job_id}/cancel",
    summary: "Cancel a job that is pending, accepted or running.",
    tag: "jobs",
    auth: "buyer",
    params: JobIdParams,
    body: CancelJobRequest,
    bodyOptional: true,
    response: { status: 200, schema: Job },
    errors: ["JOB_NOT_FOUND", "INVALID_TRANSITION"],
  }),
  getJobEvents: route({
    method: "GET",
    path: "/v1/jobs/{job_id}/events",
    summary: "Follow a job live: a Server-Sent Events stream of its history.",
    description:
      "Sends every recorded change of the job — `status` events for status changes, `progress` events for progress reports — each with `id:` set to its event_id, then one `end` event whose data is the finished job, and closes. Reconnect with `Last-Event-ID` to resume where the stream stopped. Comment lines (`: ping`) keep idle connections open.",
    tag: "jobs",
    auth: "buyer",
    params: JobIdParams,
    headers: JobEventsHeaders,
    response: { status: 200, schema: JobEvent, events: JobStreamEvents },
    errors: ["JOB_NOT_FOUND"],
  }),
  getJobResult: route({
    method: "GET",
    path: "/v1/jobs/{job_id}/result",
    summary: "The result files of a completed job, with download URLs.",
    tag: "jobs",
    auth: "buyer",
    params: JobIdParams,
    response: { status: 200, schema: JobResult },
    errors: ["JOB_NOT_FOUND", "RESULT_NOT_READY"],
  }),
  listExecutorJobs: route({
    method: "GET",
    path: "/v1/executor/jobs",
    summary: "Jobs of your agents, oldest first; `wait` long-polls.",
    tag: "executor",
    auth: "provider",
    headers: ExecutorHeaders,
    query: ExecutorJobsQuery,
    response: { status: 200, schema: ExecutorJobList },
    errors: ["AGENT_NOT_FOUND", "AGENT_NOT_OWNED"],
  }),
  updateJobStatus: route({
    method: "POST",
    path: "/v1/executor/jobs/{job_id}/status",
    summary: "Accept, reject, start, report progress on, or fail a job.",
    description:
      "Transitions: pending→accepted|rejected, accepted→running, running→running (progress), accepted|running→failed. Of concurrent accepts exactly one wins; the others get 409. The accept response carries the job's `attempt`; send it with every later call so that a call from an attempt whose lease lapsed is refused (without it a call applies to the current attempt).",
    tag: "executor",
    auth: "provider",
    headers: ExecutorHeaders,
    params: JobIdParams,
    body: StatusUpdateRequest,
    response: { status: 200, schema: Job },
    errors: [...HELD_JOB_ERRORS, "INVALID_FAILURE_CODE"],
  }),
  completeJob: route({
    method: "POST",
    path: "/v1/executor/jobs/{job_id}/complete",
    summary: "Complete a running job.",
    description:
      "JSON `{attempt}` (or no body) completes without files. With result files: multipart/form-data with an optional `attempt` field, then `files` parts. The key, ownership, status and (when `?attempt=` is given) the attempt are checked before any byte of the body is read; a refused or failed upload leaves nothing stored and the job unchanged, so it can be retried. Without an attempt (query or field) the completion applies to the current attempt, unfenced. With `?next=accept|start` the API also takes the agent's next pending job for you (`next_jobs`), as a claiming poll would.",
    tag: "executor",
    auth: "provider",
    headers: ExecutorHeaders,
    params: JobIdParams,
    query: CompleteJobQuery,
    body: CompleteJobRequest,
    bodyOptional: true,
    multipart: {
      attempt: {
        kind: "field",
        required: false,
        description: "The job's attempt. Comes before the files.",
      },
      files: FILE_PARTS,
    },
    response: { status: 200, schema: CompletedJob },
    errors: [...HELD_JOB_ERRORS, ...UPLOAD_ERRORS],
  }),
  heartbeat: route({
    method: "POST",
    path: "/v1/executor/jobs/{job_id}/heartbeat",
    summary: "Renew the lease on a job you hold (optionally reporting progress).",
    description:
      "Accepting starts a lease of AGNT_LEASE_SECONDS; every status, progress or heartbeat call renews it. A job whose lease lapses goes back to pending with attempt + 1 (or fails with `lease_lost` after its last attempt).",
    tag: "executor",
    auth: "provider",
    headers: ExecutorHeaders,
    params: JobIdParams,
    body: HeartbeatRequest,
    bodyOptional: true,
    response: { status: 200, schema: Job },
    errors: [...HELD_JOB_ERRORS],
  }),
  getJobInputs: route({
    method: "GET",
    path: "/v1/executor/jobs/{job_id}/inputs",
    summary: "The input files of a job you accepted, with fresh download URLs.",
    description: "Available while the job is accepted or running.",
    tag: "executor",
    auth: "provider",
    headers: ExecutorHeaders,
    params: JobIdParams,
    response: { status: 200, schema: JobInputs },
    errors: ["JOB_NOT_FOUND", "INPUTS_NOT_AVAILABLE"],
  }),
  downloadFile: route({
    method: "GET",
    path: "/v1/files/{token}",
    summary: "Download a file through a signed URL (embedded file store).",
    description:
      "The URL itself is the credential: it names one file and expires (AGNT_DOWNLOAD_URL_TTL_SECONDS). Served as an attachment. With S3 storage, download URLs point at the bucket instead.",
    tag: "files",
    auth: null,
    params: FileTokenParams,
    response: { status: 200, schema: FileContent, binary: true },
    errors: ["DOWNLOAD_URL_INVALID", "DOWNLOAD_URL_EXPIRED", "FILE_NOT_FOUND"],
  }),
  createKey: route({
    method: "POST",
    path: "/v1/admin/keys",
    summary: "Create an account with a key (or another key for an account).",
    tag: "admin",
    auth: "admin",
    body: CreateKeyRequest,
    response: { status: 201, schema: CreatedKey },
    errors: ["ACCOUNT_NOT_FOUND", "ROLE_MISMATCH"],
  }),
  revokeKey: route({
    method: "POST",
    path: "/v1/admin/keys/{key_id}/revoke",
    summary: "Revoke a key; it stops working at once. Revoking twice is harmless.",
    tag: "admin",
    auth: "admin",
    params: KeyIdParams,
    response: { status: 200, schema: ApiKeyInfo },
    errors: ["KEY_NOT_FOUND"],
  }),
} as const satisfies Record<string, RouteDef>;

export type Routes = typeof routes;
export type RouteId = keyof Routes;

/** Every error a route can answer with: its own plus those that follow from its shape. */
export function routeErrors(def: RouteDef): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (def.params || def.query || def.headers || def.body) codes.add("VALIDATION_FAILED");
  if (def.body) {
    codes.add("MALFORMED_JSON");
    codes.add("PAYLOAD_TOO_LARGE");
    codes.add("UNSUPPORTED_MEDIA_TYPE");
  }
  if (def.auth) {
    codes.add("UNAUTHENTICATED");
    codes.add("FORBIDDEN");
  }
  for (const code of def.errors) codes.add(code);
  return [...codes];
}
