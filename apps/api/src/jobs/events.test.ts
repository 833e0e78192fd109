import { describe, expect, it } from "vitest";
import { expectProblem } from "../../test/expect.ts";
import { orderJob, setStatus, useTestEnv } from "../../test/harness.ts";

interface Frame {
  id?: string;
  event?: string;
  data?: Record<string, unknown>;
}

/** Parses a text/event-stream body into its events (comments and retry lines dropped). */
function parse(text: string): Frame[] {
  return text
    .split("\n\n")
    .map((block) => {
      const frame: Frame = {};
      for (const line of block.split("\n")) {
        const [field, ...rest] = line.split(": ");
        const value = rest.join(": ");
        if (field === "id") frame.id = value;
        if (field === "event") frame.event = value;
        if (field === "data") frame.data = JSON.parse(value);
      }
      return frame;
    })
    .filter((frame) => frame.event);
}

describe("GET /v1/jobs/{job_id}/events", () => {
  const env = useTestEnv();

  async function finishedJob(): Promise<string> {
    const { job_id: id } = await orderJob(env);
    await setStatus(env, id, { status: "accepted" });
    await setStatus(env, id, { status: "running", attempt: 1 });
    await setStatus(env, id, { status: "running", attempt: 1, progress: 50, message: "half way" });
    await env.call("POST", `/v1/executor/jobs/${id}/complete`, {
      key: env.provider.key,
      body: { attempt: 1 },
    });
    return id;
  }

  it("replays a finished job's history, then an end event with the job, and closes", async () => {
    const id = await finishedJob();
    const res = await env.call("GET", `/v1/jobs/${id}/events`, { key: env.buyer.key });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
    const frames = parse(res.text);
    expect(frames.map((f) => [f.event, f.data?.from_status, f.data?.to_status])).toEqual([
      ["status", null, "pending"],
      ["status", "pending", "accepted"],
      ["status", "accepted", "running"],
      ["progress", "running", "running"],
      ["status", "running", "completed"],
      ["end", undefined, undefined],
    ]);
    const ids = frames.slice(0, -1).map((f) => Number(f.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(frames[3]?.data).toMatchObject({
      progress: 50,
      message: "half way",
      actor: "executor",
      attempt: 1,
    });
    expect(frames.at(-1)?.data).toMatchObject({ job_id: id, status: "completed" });
  });

  it("resumes after Last-Event-ID", async () => {
    const id = await finishedJob();
    const all = parse(
      (await env.call("GET", `/v1/jobs/${id}/events`, { key: env.buyer.key })).text,
    );
    const resumed = await env.call("GET", `/v1/jobs/${id}/events`, {
      key: env.buyer.key,
      headers: { "last-event-id": all[2]?.id as string },
    });
    expect(parse(resumed.text).map((f) => f.id)).toEqual([all[3]?.id, all[4]?.id, undefined]);
  });

  it("streams changes live as they happen, then ends", async () => {
    const url = await env.app.listen({ port: 0, host: "127.0.0.1" });
    const { job_id: id } = await orderJob(env);
    const response = await fetch(`${url}/v1/jobs/${id}/events`, {
      headers: { authorization: `Bearer ${env.buyer.key}` },
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const next = async (count: number) => {
      while (parse(text).length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      return parse(text);
    };
    expect((await next(1)).map((f) => f.data?.to_status)).toEqual(["pending"]);
    await setStatus(env, id, { status: "accepted" });
    expect((await next(2)).at(-1)?.data?.to_status).toBe("accepted");
    await setStatus(env, id, { status: "running", attempt: 1, progress: 10 });
    expect((await next(3)).at(-1)?.data).toMatchObject({ to_status: "running", progress: 10 });
    await env.call("POST", `/v1/jobs/${id}/cancel`, {
      key: env.buyer.key,
      body: { reason: "enough" },
    });
    const frames = await next(5);
    expect(frames.slice(-2).map((f) => f.event)).toEqual(["status", "end"]);
    expect(frames.at(-2)?.data).toMatchObject({
      to_status: "canceled",
      actor: "buyer",
      reason: "enough",
    });
    expect((await reader.read()).done).toBe(true);
  });

  it("answers 404 for another buyer's job and 400 for a malformed Last-Event-ID", async () => {
    const { job_id: id } = await orderJob(env);
    expectProblem(
      await env.call("GET", `/v1/jobs/${id}/events`, { key: env.buyer2.key }),
      "JOB_NOT_FOUND",
    );
    expectProblem(
      await env.call("GET", `/v1/jobs/${id}/events`, {
        key: env.buyer.key,
        headers: { "last-event-id": "abc" },
      }),
      "VALIDATION_FAILED",
    );
  });
});
