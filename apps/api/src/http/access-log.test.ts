import { describe, expect, it } from "vitest";
import { useTestEnv } from "../../test/harness.ts";

const lines: Record<string, unknown>[] = [];

describe("the access log", () => {
  const env = useTestEnv({
    logLevel: "info",
    logStream: { write: (line) => lines.push(JSON.parse(line)) },
  });

  it("writes one line per request once it is answered, with its status and time, never the key", async () => {
    lines.length = 0;
    const found = await env.call("GET", "/v1/jobs?limit=1", { key: env.buyer.key });
    const refused = await env.call("GET", "/v1/jobs", { key: "agnt_not_a_key" });
    expect(found.status).toBe(200);
    expect(refused.status).toBe(401);

    const requests = lines.filter((line) => line.msg === "request");
    expect(requests).toEqual([
      expect.objectContaining({ method: "GET", url: "/v1/jobs?limit=1", status: 200 }),
      expect.objectContaining({ method: "GET", url: "/v1/jobs", status: 401 }),
    ]);
    for (const line of requests) {
      expect(line.ms).toEqual(expect.any(Number));
      expect(line.reqId).toEqual(expect.any(String));
    }
    // Nothing else is logged for a request that went well: no "incoming request" line.
    expect(lines.filter((line) => line.reqId === requests[0]?.reqId)).toHaveLength(1);
    const all = JSON.stringify(lines);
    expect(all).not.toContain(env.buyer.key);
    expect(all).not.toContain("agnt_not_a_key");
  });
});
