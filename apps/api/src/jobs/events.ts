import { isTerminal, type JobStreamEventName, jobEventName } from "@agnt/contract";
import type { FastifyReply } from "fastify";
import { topics } from "../events/feed.ts";
import { clientGone } from "../http/abort.ts";
import { type JobRow, toJob } from "./model.ts";
import { type JobsDeps, jobEventsAfter, requireBuyerJob } from "./service.ts";

const PING_MS = 15_000;
/** Longest wait between two reads of a quiet job. */
const QUIET_MS = 55_000;

function frame(fields: { id?: number; event: JobStreamEventName; data: unknown }): string {
  return `${fields.id === undefined ? "" : `id: ${fields.id}\n`}event: ${fields.event}\ndata: ${JSON.stringify(fields.data)}\n\n`;
}

/**
 * Streams a job's history as Server-Sent Events: every recorded change after `lastEventId`
 * (`status` or `progress`), then an `end` event with the finished job. Woken by the change
 * feed; the job is read before its events, so the event that finished it is always sent before
 * `end`.
 */
export async function streamJobEvents(
  deps: JobsDeps,
  buyerAccountId: string,
  jobId: string,
  lastEventId: number,
  reply: FastifyReply,
): Promise<void> {
  const signal = clientGone(reply);
  // Watching starts before the first read, so a change committed while reading is not missed.
  const changes = deps.feed.watch([topics.job(jobId)], signal);
  let job: JobRow;
  try {
    await changes.ready;
    job = await requireBuyerJob(deps.db, buyerAccountId, jobId);
  } catch (error) {
    changes.stop();
    throw error;
  }
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    "x-request-id": String(reply.request.id),
  });
  raw.write("retry: 2000\n\n");
  const ping = setInterval(() => raw.write(": ping\n\n"), PING_MS);
  let last = lastEventId;
  try {
    for (;;) {
      const events = await jobEventsAfter(deps.db, jobId, last, 500);
      for (const event of events) {
        raw.write(
          frame({
            id: event.event_id,
            event: jobEventName(event),
            data: event,
          }),
        );
        last = event.event_id;
      }
      if (events.length === 500) continue;
      if (isTerminal(job.status)) {
        raw.write(frame({ event: "end", data: toJob(job) }));
        break;
      }
      if (signal.aborted || deps.feed.closed) break;
      await changes.next(QUIET_MS);
      if (signal.aborted) break;
      job = await requireBuyerJob(deps.db, buyerAccountId, jobId);
    }
  } catch (error) {
    reply.request.log.warn({ err: error }, "event stream ended by an error");
  } finally {
    changes.stop();
    clearInterval(ping);
    raw.end();
  }
}
