/**
 * The job lifecycle, defined once: statuses, failure codes, actors and the transition table.
 * The API enforces it with conditional UPDATEs; clients use it to reason about jobs.
 */

/** Every status a job can be in. */
export const JOB_STATUSES = [
  "pending",
  "accepted",
  "running",
  "completed",
  "failed",
  "rejected",
  "canceled",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Statuses a job never leaves. */
export const TERMINAL_STATUSES = ["completed", "failed", "rejected", "canceled"] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** Statuses during which an executor holds the job under a lease; heartbeats renew it. */
export const ACTIVE_STATUSES = ["accepted", "running"] as const;
export type ActiveStatus = (typeof ACTIVE_STATUSES)[number];

/** True when the job will never change again. */
export function isTerminal(status: JobStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/**
 * Machine-readable reason a job failed, beside the human `decision_reason`.
 * `settable_by_executor` says whether an executor may report it; the others are the system's.
 */
export const FAILURE_CODES = {
  executor_error: {
    settable_by_executor: true,
    meaning: "The executor or the AI tool it runs failed while working on the job.",
  },
  invalid_input: {
    settable_by_executor: true,
    meaning: "The executor found the prompt, params or input files unusable after accepting.",
  },
  no_output: {
    settable_by_executor: true,
    meaning: "The work ended without producing the result the agent promises.",
  },
  permission_denied: {
    settable_by_executor: true,
    meaning:
      "The AI tool needed a permission the executor does not grant (a tool, a path, the network).",
  },
  upstream_error: {
    settable_by_executor: true,
    meaning:
      "A service the executor depends on (an AI model provider) failed or refused the request.",
  },
  timed_out: {
    settable_by_executor: true,
    meaning: "The job ran longer than its run timeout.",
  },
  expired: {
    settable_by_executor: false,
    meaning: "No executor accepted the job before its queue deadline.",
  },
  lease_lost: {
    settable_by_executor: false,
    meaning: "The executor stopped renewing its lease and no attempts were left.",
  },
} as const;
export type FailureCode = keyof typeof FAILURE_CODES;
export const FAILURE_CODE_VALUES = Object.keys(FAILURE_CODES) as [FailureCode, ...FailureCode[]];
export const EXECUTOR_FAILURE_CODES = FAILURE_CODE_VALUES.filter(
  (code) => FAILURE_CODES[code].settable_by_executor,
) as [FailureCode, ...FailureCode[]];

/** Who caused a change: the buyer who owns the job, the provider's executor, or the API itself. */
export const ACTORS = ["buyer", "executor", "system"] as const;
export type Actor = (typeof ACTORS)[number];

/** One allowed change of status. `via` names the route or mechanism that performs it. */
export interface Transition {
  from: JobStatus | null;
  to: JobStatus;
  actor: Actor;
  via: string;
}

/** Every allowed transition. Anything not listed here is refused with 409. */
export const TRANSITIONS: readonly Transition[] = [
  { from: null, to: "pending", actor: "buyer", via: "POST /v1/jobs" },
  {
    from: "pending",
    to: "accepted",
    actor: "executor",
    via: "POST /v1/executor/jobs/{job_id}/status",
  },
  {
    from: "pending",
    to: "rejected",
    actor: "executor",
    via: "POST /v1/executor/jobs/{job_id}/status",
  },
  {
    from: "accepted",
    to: "running",
    actor: "executor",
    via: "POST /v1/executor/jobs/{job_id}/status",
  },
  {
    from: "running",
    to: "running",
    actor: "executor",
    via: "POST /v1/executor/jobs/{job_id}/status (progress)",
  },
  {
    from: "accepted",
    to: "failed",
    actor: "executor",
    via: "POST /v1/executor/jobs/{job_id}/status",
  },
  {
    from: "running",
    to: "failed",
    actor: "executor",
    via: "POST /v1/executor/jobs/{job_id}/status",
  },
  {
    from: "running",
    to: "completed",
    actor: "executor",
    via: "POST /v1/executor/jobs/{job_id}/complete",
  },
  { from: "pending", to: "canceled", actor: "buyer", via: "POST /v1/jobs/{job_id}/cancel" },
  { from: "accepted", to: "canceled", actor: "buyer", via: "POST /v1/jobs/{job_id}/cancel" },
  { from: "running", to: "canceled", actor: "buyer", via: "POST /v1/jobs/{job_id}/cancel" },
  {
    from: "accepted",
    to: "pending",
    actor: "system",
    via: "sweeper: lease lapsed, attempts left (attempt + 1)",
  },
  {
    from: "running",
    to: "pending",
    actor: "system",
    via: "sweeper: lease lapsed, attempts left (attempt + 1)",
  },
  {
    from: "accepted",
    to: "failed",
    actor: "system",
    via: "sweeper: run timeout (timed_out) or last lease lapsed (lease_lost)",
  },
  {
    from: "running",
    to: "failed",
    actor: "system",
    via: "sweeper: run timeout (timed_out) or last lease lapsed (lease_lost)",
  },
  {
    from: "pending",
    to: "failed",
    actor: "system",
    via: "sweeper: queue deadline passed (expired)",
  },
];

/** The statuses a transition to `to` by `actor` may start from. */
export function allowedFrom(to: JobStatus, actor: Actor): JobStatus[] {
  return TRANSITIONS.filter((t) => t.to === to && t.actor === actor && t.from !== null).map(
    (t) => t.from as JobStatus,
  );
}

/** True when the table allows `from → to` by `actor`. */
export function canTransition(from: JobStatus, to: JobStatus, actor: Actor): boolean {
  return TRANSITIONS.some((t) => t.from === from && t.to === to && t.actor === actor);
}

/** Statuses in which an executor reports progress: the table's `x → x` executor transitions. */
export function progressFrom(): JobStatus[] {
  return TRANSITIONS.filter((t) => t.from === t.to && t.actor === "executor").map((t) => t.to);
}
