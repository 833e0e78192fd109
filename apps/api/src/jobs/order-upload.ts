import { randomUUID } from "node:crypto";
import type { CreateJobRequest, Job } from "@agnt/contract";
import { type UploadBody, UploadSession } from "../files/upload.ts";
import { type JobsDeps, placeOrder, prepareOrder } from "./service.ts";

/**
 * Orders a job with input files: the order (the multipart `job` part) is checked — agent,
 * params — before any file byte is read; the files stream into the store under the new job's
 * id; the job and its input manifest are then written in one transaction. Any failure removes
 * what was stored; a replayed idempotent order keeps the first order's files only.
 */
export async function orderWithFiles(
  deps: JobsDeps,
  buyerAccountId: string,
  idempotencyKey: string | undefined,
  upload: UploadBody<CreateJobRequest>,
): Promise<{ job: Job; replayed: boolean }> {
  const order = await prepareOrder(deps, await upload.body());
  const jobId = randomUUID();
  const session = new UploadSession({
    store: deps.files.store,
    prefix: `jobs/${jobId}/inputs/${randomUUID()}/`,
    limits: deps.files.limits,
    signal: upload.signal,
    log: deps.files.log,
  });
  try {
    for await (const file of upload.files()) await session.receive(file);
    const placed = await placeOrder(deps, buyerAccountId, order, {
      idempotencyKey,
      jobId,
      inputs: session.files,
    });
    // A replay returns the first order: this request's copies of the files are not needed.
    if (placed.replayed) await session.abandon();
    return placed;
  } catch (error) {
    await session.abandon();
    throw error;
  }
}
