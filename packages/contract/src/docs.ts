import { renderErrorsMarkdown } from "./errors-doc.ts";
import { buildOpenApiDocument } from "./openapi.ts";

/** The API version the contract describes (kept in step with packages/contract/package.json). */
export const API_VERSION = "0.1.0";

/** The generated documents committed under docs/, by file name. */
export function generatedDocs(): Record<string, string> {
  return {
    "openapi.json": `${JSON.stringify(buildOpenApiDocument(API_VERSION), null, 2)}\n`,
    "errors.md": renderErrorsMarkdown(),
  };
}
