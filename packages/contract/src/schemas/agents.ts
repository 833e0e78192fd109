import { z } from "zod";
import { JsonObject, queryInt, queryList, Text, Timestamp, Uuid } from "./common.ts";

/** A tag: lowercase letters, digits and dashes, as the catalogue stores them. */
export const Tag = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9][a-z0-9+#.-]*$/, "tags are lowercase letters, digits and - + # .");

export const Pricing = z
  .object({
    model: z
      .enum(["per_job", "free"])
      .describe("`per_job`: `amount_cents` is charged for each completed job. `free`: no charge."),
    amount_cents: z.int().min(0).describe("Price in the currency's minor unit (cents)."),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .describe("ISO 4217 currency code."),
  })
  .meta({ id: "Pricing" });
export type Pricing = z.infer<typeof Pricing>;

/** The agent card: what a buyer needs to choose an agent and order from it. */
export const Agent = z
  .object({
    agent_id: Uuid,
    slug: z.string().describe("Short unique handle, e.g. `code-review`."),
    name: z.string(),
    description: z.string(),
    tags: z.array(z.string()),
    pricing: Pricing,
    input_schema: JsonObject.describe("JSON Schema (2020-12) that a job's `params` must satisfy."),
    output_schema: JsonObject.describe(
      "JSON Schema (2020-12) describing the result the agent produces.",
    ),
    provider_name: z.string().describe("Display name of the provider that runs the agent."),
    default_timeout_seconds: z
      .int()
      .nullable()
      .describe("Run timeout of jobs that set none; null: none."),
    max_timeout_seconds: z
      .int()
      .nullable()
      .describe("Largest run timeout a job may ask for; null: no limit."),
    executors_online: z
      .int()
      .describe(
        "Executor instances of the agent seen in the last 90 seconds (a long-poll counts while held).",
      ),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: "Agent" });
export type Agent = z.infer<typeof Agent>;

export const AgentIdParams = z.strictObject({ agent_id: Uuid });

export const SearchAgentsQuery = z.strictObject({
  q: Text(0, 200)
    .optional()
    .describe(
      "Free text matched against name, description and tags: its words (stems; the last word also as a prefix while it is typed) and, for one word or text with punctuation, the text as a substring (`%` and `_` are literal; text without three letters or digits in a row is looked for as a substring among the 5,000 newest agents only). With text, the 100 newest matches and the 20 newest agents whose name contains the text come first, ranked by relevance; the other matches follow, newest first. Without text: newest first.",
    ),
  tag: queryList(Tag, 20).optional().describe("Repeatable. Only agents carrying every given tag."),
  limit: queryInt(1, 100).default(20).describe("Page size, 1..100."),
  offset: queryInt(0, 1_000_000).default(0).describe("Number of agents to skip."),
});
export type SearchAgentsQuery = z.infer<typeof SearchAgentsQuery>;

export const AgentList = z
  .object({
    agents: z.array(Agent),
    total: z
      .int()
      .describe(
        "Number of agents matching the filters, regardless of limit and offset. Counted up to 100: when more match, `total_capped` is true and `total` is a lower bound.",
      ),
    total_capped: z
      .boolean()
      .optional()
      .describe(
        "Present, and true, only when more agents match than were counted: `total` is then a lower bound, 100 or offset + the agents returned if that is more, rather than exact.",
      ),
  })
  .meta({ id: "AgentList" });
export type AgentList = z.infer<typeof AgentList>;

const seconds = (description: string) => z.number().min(0).nullable().describe(description);

/** What an agent's track record looks like. Every figure's meaning is part of the contract. */
export const AgentStats = z
  .object({
    agent_id: Uuid,
    executors_online: z
      .int()
      .describe("Executor instances of the agent seen in the last 90 seconds."),
    total_jobs: z.int().describe("Every job ever ordered from the agent, in any status."),
    active_jobs: z.int().describe("Jobs not finished yet: pending, accepted or running."),
    completed_jobs: z.int().describe("Jobs that ended `completed`."),
    failed_jobs: z.int().describe("Jobs that ended `failed` (any failure_code)."),
    rejected_jobs: z.int().describe("Jobs the agent's executor declined (`rejected`)."),
    canceled_jobs: z.int().describe("Jobs the buyer canceled."),
    success_rate: z
      .number()
      .min(0)
      .max(1)
      .nullable()
      .describe(
        "completed / (completed + failed + rejected): the share of jobs the agent finished successfully, among the jobs whose outcome the agent decided. Canceled and unfinished jobs do not count. Null when there are none.",
      ),
    avg_duration_seconds: seconds(
      "Mean turnaround of completed jobs: created_at → completed_at, queue time included. Null without completed jobs.",
    ),
    p50_duration_seconds: seconds("Median turnaround of completed jobs (continuous percentile)."),
    p95_duration_seconds: seconds(
      "95th percentile turnaround of completed jobs (continuous percentile).",
    ),
    avg_run_seconds: seconds(
      "Mean run time of completed jobs: started_at (running) → completed_at, queue and acceptance excluded.",
    ),
  })
  .meta({ id: "AgentStats" });
export type AgentStats = z.infer<typeof AgentStats>;
