import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "./errors.ts";
import { type RouteDef, routeErrors, routes } from "./routes.ts";

type JsonSchema = Record<string, unknown>;
type Io = "input" | "output";

const componentRef = (id: string) => `#/components/schemas/${id}`;

function schemaId(schema: z.ZodType): string | undefined {
  return z.globalRegistry.get(schema)?.id as string | undefined;
}

/** Points `#/$defs/Name` references at `#/components/schemas/Name`. */
function relink(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(relink);
  if (value === null || typeof value !== "object") return value;
  const out: JsonSchema = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] =
      key === "$ref" && typeof inner === "string"
        ? componentRef(inner.replace("#/$defs/", ""))
        : relink(inner);
  }
  return out;
}

/** Converts a zod schema to JSON Schema, referring to named schemas as OpenAPI components. */
function toJson(schema: z.ZodType, io: Io): JsonSchema {
  const out = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
  }) as JsonSchema;
  const defs = (out.$defs ?? {}) as Record<string, JsonSchema>;
  const ownId = schemaId(schema);
  // A named root comes back as {$ref: "#/$defs/Name", $defs: {Name: …}}: inline it.
  const root = ownId && defs[ownId] ? defs[ownId] : out;
  const { $schema: _s, $id: _i, $defs: _d, ...rest } = root;
  return relink(rest) as JsonSchema;
}

/** The fields of an object schema (path, query, header parameters). */
function fields(schema: z.ZodType | undefined): [string, z.ZodType][] {
  if (!schema) return [];
  const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
  if (!shape) throw new Error("parameter schemas must be zod objects");
  return Object.entries(shape);
}

function parameters(def: RouteDef): JsonSchema[] {
  const list: JsonSchema[] = [];
  const add = (where: "path" | "query" | "header", schema: z.ZodType | undefined) => {
    for (const [name, field] of fields(schema)) {
      const json = toJson(field, "output");
      const description = json.description;
      delete json.description;
      list.push({
        name: where === "header" ? headerName(name) : name,
        in: where,
        required: where === "path" || !field.safeParse(undefined).success,
        ...(description ? { description } : {}),
        schema: json,
        ...(json.type === "array" ? { style: "form", explode: true } : {}),
      });
    }
  };
  add("path", def.params);
  add("query", def.query);
  add("header", def.headers);
  return list;
}

function headerName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

function requestBody(def: RouteDef): JsonSchema | undefined {
  if (!def.body) return undefined;
  const content: JsonSchema = { "application/json": { schema: toJson(def.body, "input") } };
  if (def.multipart) {
    const properties: Record<string, JsonSchema> = {};
    const encoding: Record<string, JsonSchema> = {};
    const bodyJson = toJson(def.body, "input");
    const fieldsJson = (bodyJson.properties ?? {}) as Record<string, JsonSchema>;
    for (const [name, part] of Object.entries(def.multipart)) {
      if (part.kind === "files") {
        properties[name] = {
          type: "array",
          items: { type: "string", format: "binary" },
          description: part.description,
        };
      } else if (part.kind === "body") {
        properties[name] = { ...bodyJson, description: part.description };
        encoding[name] = { contentType: "application/json" };
      } else {
        properties[name] = { ...fieldsJson[name], description: part.description };
      }
    }
    const required = Object.entries(def.multipart)
      .filter(([, part]) => part.required)
      .map(([name]) => name);
    content["multipart/form-data"] = {
      schema: { type: "object", properties, required },
      ...(Object.keys(encoding).length ? { encoding } : {}),
    };
  }
  return { required: !def.bodyOptional, content };
}

function responses(def: RouteDef): JsonSchema {
  const out: JsonSchema = {};
  const id = schemaId(def.response.schema);
  const events = def.response.events;
  out[String(def.response.status)] = {
    description: events
      ? `A Server-Sent Events stream. Events: ${Object.entries(events)
          .map(([name, schema]) => `\`${name}\` (data: ${schemaId(schema) ?? "JSON"})`)
          .join(", ")}.`
      : def.response.status === 201
        ? "Created"
        : "OK",
    content: def.response.binary
      ? { "application/octet-stream": { schema: { type: "string", format: "binary" } } }
      : events
        ? {
            "text/event-stream": {
              schema: { $ref: componentRef(id as string) },
              "x-agnt-events": Object.fromEntries(
                Object.entries(events).map(([name, schema]) => [
                  name,
                  { $ref: componentRef(schemaId(schema) as string) },
                ]),
              ),
            },
          }
        : {
            "application/json": {
              schema: id ? { $ref: componentRef(id) } : toJson(def.response.schema, "output"),
            },
          },
  };
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of routeErrors(def)) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: codes.map((c) => `\`${c}\`: ${ERROR_CODES[c].title}`).join("; "),
      content: { "application/problem+json": { schema: { $ref: componentRef("Problem") } } },
    };
  }
  return out;
}

function components(): Record<string, JsonSchema> {
  const requestIds = new Set(
    Object.values(routes as Record<string, RouteDef>)
      .map((def) => (def.body ? schemaId(def.body) : undefined))
      .filter((id): id is string => id !== undefined),
  );
  const convert = (io: Io) =>
    z.toJSONSchema(z.globalRegistry, {
      target: "draft-2020-12",
      io,
      unrepresentable: "any",
      uri: componentRef,
    }).schemas as Record<string, JsonSchema>;
  const output = convert("output");
  const input = convert("input");
  const result: Record<string, JsonSchema> = {};
  for (const id of Object.keys(output).sort()) {
    const schema = { ...((requestIds.has(id) ? input[id] : output[id]) as JsonSchema) };
    delete schema.$schema;
    delete schema.$id;
    result[id] = schema;
  }
  return result;
}

/** The OpenAPI 3.1 document of the whole API, generated from the route table. */
export function buildOpenApiDocument(version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const [operationId, def] of Object.entries(routes as Record<string, RouteDef>)) {
    const operation: JsonSchema = {
      operationId,
      tags: [def.tag],
      summary: def.summary,
      ...(def.description ? { description: def.description } : {}),
      ...(def.auth
        ? {
            security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
            "x-agnt-role": def.auth,
          }
        : { security: [] }),
    };
    const params = parameters(def);
    if (params.length) operation.parameters = params;
    const body = requestBody(def);
    if (body) operation.requestBody = body;
    operation.responses = responses(def);
    paths[def.path] ??= {};
    (paths[def.path] as Record<string, JsonSchema>)[def.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "agnt marketplace API",
      version,
      description:
        "Buyers search agents, order jobs and fetch results; providers' executors take jobs of their agents and report on them. Errors are RFC 9457 problem documents with a stable `code` (see docs/errors.md).",
    },
    tags: [
      { name: "agents", description: "The catalogue (buyer key)." },
      { name: "jobs", description: "Ordering and following jobs (buyer key)." },
      { name: "executor", description: "Taking and running jobs (provider key)." },
      { name: "files", description: "Downloads through signed URLs (no key)." },
      { name: "admin", description: "Accounts and keys (admin key)." },
      { name: "system", description: "Health and readiness (no key)." },
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "`Authorization: Bearer agnt_…`",
        },
        apiKeyHeader: { type: "apiKey", in: "header", name: "X-API-Key" },
      },
      schemas: components(),
    },
  };
}
