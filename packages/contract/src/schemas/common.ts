import { z } from "zod";
import { ERROR_CODE_VALUES } from "../errors.ts";

/** A UUID, as every id on the wire is. */
export const Uuid = z.uuid();

/** An RFC 3339 timestamp in UTC with a `Z` suffix, always from the database clock. */
export const Timestamp = z.iso.datetime();

/** A JSON object (the shape of `params`, and of a JSON Schema document). */
export const JsonObject = z.record(z.string(), z.unknown());

/**
 * True when text can be stored as is: no NUL character (PostgreSQL refuses it in text and
 * jsonb) and no unpaired UTF-16 surrogate (it cannot be encoded as UTF-8 without being replaced).
 */
export function isStorableText(text: string): boolean {
  return !text.includes("\u0000") && text.isWellFormed();
}

const STORABLE_MESSAGE = "must not contain NUL characters or unpaired surrogates";

/** Text a client sends, up to `max` characters, that is stored exactly as sent. */
export function Text(min: number, max: number) {
  return z.string().min(min).max(max).refine(isStorableText, STORABLE_MESSAGE);
}

function isStorableJson(value: unknown): boolean {
  if (typeof value === "string") return isStorableText(value);
  if (Array.isArray(value)) return value.every(isStorableJson);
  if (value !== null && typeof value === "object") {
    return Object.entries(value).every(
      ([key, inner]) => isStorableText(key) && isStorableJson(inner),
    );
  }
  return true;
}

/** A JSON object a client sends (`params`): every string in it, keys included, is storable text. */
export const InputJsonObject = JsonObject.refine(isStorableJson, `strings ${STORABLE_MESSAGE}`);

/** One failing field of a request. */
export const FieldError = z
  .object({
    in: z
      .enum(["path", "query", "header", "body", "params"])
      .describe(
        "Where the field is: `params` means the job's params against the agent's input_schema.",
      ),
    field: z
      .string()
      .describe(
        "Dotted path to the field (`limit`, `params.language`, `tags[1]`); empty for the whole part.",
      ),
    message: z.string(),
  })
  .meta({ id: "FieldError" });
export type FieldError = z.infer<typeof FieldError>;

/** An RFC 9457 problem document: every error the API sends. */
export const Problem = z
  .object({
    type: z.string().describe("A URN naming the error code, e.g. `urn:agnt:error:job-not-found`."),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.enum(ERROR_CODE_VALUES).describe("Stable machine-readable code; see docs/errors.md."),
    instance: z.string().optional().describe("The request path."),
    request_id: z.string().optional(),
    errors: z.array(FieldError).optional().describe("One entry per failing field."),
  })
  .meta({ id: "Problem" });
export type Problem = z.infer<typeof Problem>;

/**
 * A non-negative integer query parameter given as decimal digits (`limit=20`), within bounds.
 * `1.5`, `-1`, `1e3`, ` 2` and repeated values are refused.
 */
export function queryInt(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,9}$/, "must be a whole number")
    .transform(Number)
    .pipe(z.int().min(min).max(max));
}

/** A query parameter that may be repeated (`tag=a&tag=b`); a single value becomes a list of one. */
export function queryList<T extends z.ZodType>(item: T, maxItems: number) {
  return z.preprocess(
    (value) => (value === undefined || Array.isArray(value) ? value : [value]),
    z.array(item).max(maxItems),
  );
}
