import {
  ERROR_CODES,
  type ErrorCode,
  type FieldError,
  type Problem,
  problemType,
} from "@agnt/contract";
import type { z } from "zod";

/** The one error type the API throws on purpose; the error handler turns it into problem+json. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;

  constructor(
    code: ErrorCode,
    options: { detail?: string; errors?: FieldError[]; cause?: unknown } = {},
  ) {
    super(options.detail ?? ERROR_CODES[code].title, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.errors = options.errors;
  }
}

/** Builds the problem document for an error code. */
export function problem(
  code: ErrorCode,
  detail: string,
  extra: { instance?: string; requestId?: string; errors?: FieldError[] } = {},
): Problem {
  const info = ERROR_CODES[code];
  return {
    type: problemType(code),
    title: info.title,
    status: info.status,
    detail,
    code,
    ...(extra.instance ? { instance: extra.instance } : {}),
    ...(extra.requestId ? { request_id: extra.requestId } : {}),
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
}

/** Formats a path like `["tags", 1, "name"]` as `tags[1].name`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** One field error per zod issue; unknown keys get one entry each. */
export function zodFieldErrors(where: FieldError["in"], error: z.ZodError): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({ in: where, field: formatPath([...issue.path, key]), message: "unknown field" });
      }
    } else {
      out.push({ in: where, field: formatPath(issue.path), message: issue.message });
    }
  }
  return out;
}
