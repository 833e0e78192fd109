import { describe, expect, it } from "vitest";
import { ERROR_CODE_VALUES, ERROR_CODES, problemType } from "./errors.ts";
import { buildOpenApiDocument } from "./openapi.ts";
import { type RouteDef, routeErrors, routes } from "./routes.ts";

type Json = Record<string, unknown>;
const doc = buildOpenApiDocument("test") as Json & {
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json> };
};

function collectRefs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) collectRefs(item, out);
  else if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$ref" && typeof inner === "string") out.push(inner);
      else collectRefs(inner, out);
    }
  }
  return out;
}

describe("OpenAPI document", () => {
  it("has every route of the table with its success and error responses", () => {
    for (const [id, def] of Object.entries(routes as Record<string, RouteDef>)) {
      const operation = doc.paths[def.path]?.[def.method.toLowerCase()];
      expect(operation, id).toBeDefined();
      expect(operation?.operationId).toBe(id);
      const responses = Object.keys(operation?.responses as Json);
      expect(responses).toContain(String(def.response.status));
      for (const code of routeErrors(def))
        expect(responses).toContain(String(ERROR_CODES[code].status));
    }
  });

  it("resolves every reference to a component", () => {
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.split("/").pop() as string], ref).toBeDefined();
    }
  });

  it("documents path parameters and repeatable query parameters", () => {
    const getJob = doc.paths["/v1/jobs/{job_id}"]?.get as { parameters: Json[] };
    expect(getJob.parameters).toContainEqual(
      expect.objectContaining({ name: "job_id", in: "path", required: true }),
    );
    const search = doc.paths["/v1/agents/search"]?.get as { parameters: Json[] };
    const tag = search.parameters.find((p) => p.name === "tag");
    expect(tag).toMatchObject({
      in: "query",
      required: false,
      explode: true,
      schema: { type: "array" },
    });
    const limit = search.parameters.find((p) => p.name === "limit");
    expect(limit).toMatchObject({
      schema: { type: "integer", minimum: 1, maximum: 100, default: 20 },
    });
  });

  it("describes request bodies as clients send them (defaults optional)", () => {
    const create = doc.paths["/v1/jobs"]?.post as {
      requestBody: { content: Record<string, { schema: Json }> };
    };
    const schema = create.requestBody.content["application/json"]?.schema as { required: string[] };
    expect(schema.required.sort()).toEqual(["agent_id", "prompt"]);
  });
});

describe("error codes", () => {
  it("are SCREAMING_SNAKE with 4xx/5xx statuses and URN types", () => {
    for (const code of ERROR_CODE_VALUES) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(ERROR_CODES[code].status).toBeGreaterThanOrEqual(400);
      expect(ERROR_CODES[code].status).toBeLessThan(600);
      expect(problemType(code)).toMatch(/^urn:agnt:error:[a-z0-9-]+$/);
    }
  });
});
