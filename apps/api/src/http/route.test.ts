import { routes } from "@agnt/contract";
import multipart from "@fastify/multipart";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { KeyCache } from "../accounts/key-cache.ts";
import type { Queryable } from "../db/types.ts";
import { installErrorHandling } from "./error-handler.ts";
import { registerRoute } from "./route.ts";

/** The health route, answering whatever `answer` is, with or without response checks. */
async function healthAnswering(answer: unknown, validateResponses: boolean) {
  const app = Fastify();
  await app.register(multipart);
  installErrorHandling(app);
  const noDatabase: Queryable = {
    query: () => Promise.reject(new Error("the health route reads no key")),
  };
  registerRoute(
    app,
    { keys: new KeyCache(noDatabase, { ttlMs: 0 }), validateResponses },
    routes.health,
    async () => answer as { status: "ok" },
  );
  const response = await app.inject({ url: "/health" });
  await app.close();
  return response;
}

describe("response checks (tests turn them on)", () => {
  it("pass a response that is exactly the contract's", async () => {
    const response = await healthAnswering({ status: "ok" }, true);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: "ok" });
  });

  it.each([
    ["a field outside the schema", { status: "ok", secret: "x" }],
    ["a wrong value", { status: "fine" }],
    ["a missing field", {}],
  ])("turn %s into a 500", async (_, answer) => {
    const response = await healthAnswering(answer, true);
    expect(response.statusCode).toBe(500);
    expect(response.json().code).toBe("INTERNAL");
  });

  it("are off in production: the handler's result is sent as built", async () => {
    const response = await healthAnswering({ status: "ok", extra: 1 }, false);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: "ok", extra: 1 });
  });
});
