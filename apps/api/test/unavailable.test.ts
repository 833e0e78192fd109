import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";
import { openPostgres } from "../src/db/postgres.ts";
import { tempLocalStore } from "./harness.ts";

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("database unreachable", () => {
  let app: Awaited<ReturnType<typeof buildApp>>;
  beforeAll(async () => {
    const db = openPostgres({
      connectionString: `postgres://agnt@127.0.0.1:${await closedPort()}/agnt`,
    });
    app = await buildApp({ db, store: (await tempLocalStore()).store, logLevel: false });
  });
  afterAll(() => app.close());

  it("keeps /health up without touching the database", async () => {
    const response = await app.inject({ method: "GET", url: "/health" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: "ok" });
  });

  it("answers /ready and every keyed route with 503 SERVICE_UNAVAILABLE and Retry-After", async () => {
    for (const url of ["/ready", "/v1/agents/search"]) {
      const response = await app.inject({
        method: "GET",
        url,
        headers: { authorization: `Bearer agnt_${"a".repeat(43)}` },
      });
      expect(response.statusCode, url).toBe(503);
      expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(response.headers["retry-after"]).toBe("1");
      expect(response.json()).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: 503 });
    }
  });
});
