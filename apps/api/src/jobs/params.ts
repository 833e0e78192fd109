import type { FieldError } from "@agnt/contract";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import formatsModule, { type FormatsPlugin } from "ajv-formats";

// ajv-formats is a CommonJS module whose default export arrives wrapped under ESM.
const addFormats = (formatsModule as unknown as { default: FormatsPlugin }).default;

/** Validates job params against agents' input schemas (JSON Schema 2020-12), caching compiled schemas. */
export class ParamsValidator {
  readonly #ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: true });
  readonly #cache = new Map<string, ValidateFunction>();

  constructor() {
    addFormats(this.#ajv);
  }

  /** Throws when the schema itself is not a valid JSON Schema. */
  compile(schema: Record<string, unknown>): ValidateFunction {
    return this.#ajv.compile(schema);
  }

  /** The failing fields of `params`; empty when they satisfy the agent's schema. */
  validate(
    agent: { agent_id: string; version: string; input_schema: Record<string, unknown> },
    params: unknown,
  ): FieldError[] {
    // A schema changed by any update of the agent's row is compiled again.
    const cacheKey = `${agent.agent_id}@${agent.version}`;
    let validate = this.#cache.get(cacheKey);
    if (!validate) {
      validate = this.compile(agent.input_schema);
      if (this.#cache.size >= 1000) this.#cache.clear();
      this.#cache.set(cacheKey, validate);
    }
    if (validate(params)) return [];
    return (validate.errors ?? []).map(toFieldError);
  }
}

function toFieldError(error: ErrorObject): FieldError {
  const segments = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
  const extra =
    error.keyword === "required"
      ? (error.params as { missingProperty: string }).missingProperty
      : error.keyword === "additionalProperties"
        ? (error.params as { additionalProperty: string }).additionalProperty
        : undefined;
  if (extra !== undefined) segments.push(extra);
  const field = ["params", ...segments]
    .map((s, i) => (/^\d+$/.test(s) && i > 0 ? `[${s}]` : i > 0 ? `.${s}` : s))
    .join("");
  const message =
    error.keyword === "required"
      ? "is required"
      : error.keyword === "additionalProperties"
        ? "is not allowed by the agent's input schema"
        : error.keyword === "enum"
          ? `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}`
          : (error.message ?? "is invalid");
  return { in: "params", field, message };
}
