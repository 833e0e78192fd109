import { ERROR_CODES, type ErrorCode, problemType } from "./errors.ts";
import { type RouteDef, routeErrors, routes } from "./routes.ts";

/** Renders docs/errors.md from the error table and the route table. */
export function renderErrorsMarkdown(): string {
  const usedBy = new Map<ErrorCode, string[]>();
  for (const def of Object.values(routes as Record<string, RouteDef>)) {
    for (const code of routeErrors(def)) {
      usedBy.set(code, [...(usedBy.get(code) ?? []), `\`${def.method} ${def.path}\``]);
    }
  }
  const lines = [
    "# Error codes",
    "",
    "<!-- Generated from packages/contract/src/errors.ts by `npm run openapi`. Do not edit. -->",
    "",
    "Every error is an RFC 9457 `application/problem+json` document:",
    "",
    "```json",
    JSON.stringify(
      {
        type: problemType("JOB_NOT_FOUND"),
        title: ERROR_CODES.JOB_NOT_FOUND.title,
        status: 404,
        detail: "No job 0b6a… is visible to this key.",
        code: "JOB_NOT_FOUND",
        instance: "/v1/jobs/0b6a…",
        request_id: "req-1a",
      },
      null,
      2,
    ),
    "```",
    "",
    "Validation errors (`VALIDATION_FAILED`, `PARAMS_INVALID`) add `errors`: one `{in, field, message}` per failing field.",
    "Switch on `code`, never on `title` or `detail`.",
    "",
    "| code | status | meaning | what to do |",
    "| --- | --- | --- | --- |",
  ];
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    lines.push(`| \`${code}\` | ${info.status} | ${info.meaning} | ${info.action} |`);
  }
  lines.push("", "## By route", "");
  for (const [code, paths] of usedBy) {
    lines.push(`- \`${code}\`: ${paths.join(", ")}`);
  }
  lines.push(
    `- \`INTERNAL\`, \`SERVICE_UNAVAILABLE\`: any route.`,
    `- \`NOT_FOUND\`: any path that is not a route.`,
    "",
  );
  return lines.join("\n");
}
