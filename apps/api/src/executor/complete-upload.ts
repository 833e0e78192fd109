import { randomUUID } from "node:crypto";
import type { CompletedJob, CompleteJobRequest } from "@agnt/contract";
import { recordResultFiles } from "../files/service.ts";
import { type UploadBody, UploadSession } from "../files/upload.ts";
import type { JobRow } from "../jobs/model.ts";
import { checkTransition, transition } from "../lifecycle/service.ts";
import {
  agreedAttempt,
  completed,
  completion,
  type ExecutorDeps,
  nothingNext,
  takeNext,
  tookNext,
} from "./service.ts";
import type { ClaimTake } from "./sql.ts";

/**
 * Completes a running job with result files (multipart/form-data: an optional `attempt`
 * field, then `files` parts). Ownership, status and — when given in the query — the attempt
 * are checked before any byte of the body is read; an `attempt` field is checked before any
 * file is. Files stream into the store; the transition and the result manifest are written in
 * one transaction. A refused, failed or interrupted upload leaves nothing stored and the job
 * unchanged, so it can be retried. Without any attempt the completion is unfenced. With
 * `take`, the same transaction takes the agent's next pending job for the executor.
 */
export async function completeWithFiles(
  deps: ExecutorDeps,
  providerAccountId: string,
  jobId: string,
  queryAttempt: number | undefined,
  upload: UploadBody<CompleteJobRequest>,
  take?: ClaimTake,
): Promise<CompletedJob> {
  const change = completion(providerAccountId, queryAttempt);
  await checkTransition(deps, jobId, change.scope, change);
  const attempt = agreedAttempt(queryAttempt, (await upload.body()).attempt);
  if (attempt !== queryAttempt)
    await checkTransition(deps, jobId, change.scope, { ...change, attempt });
  const session = new UploadSession({
    store: deps.files.store,
    prefix: `jobs/${jobId}/results/${randomUUID()}/`,
    limits: deps.files.limits,
    signal: upload.signal,
    log: deps.files.log,
  });
  try {
    for await (const file of upload.files()) await session.receive(file);
    const files = session.files;
    let taken: JobRow[] | undefined;
    const mark = deps.feed.pendingMark();
    const emptyTopic = take && deps.feed.knownEmptyTopic(take.holder);
    const row = await transition(
      deps,
      jobId,
      change.scope,
      { ...change, attempt },
      async (tx, done) => {
        await recordResultFiles(tx, done.job_id, files);
        if (!take) return;
        // Known to find nothing: no read, so nothing learned either (no tookNext).
        if (nothingNext(emptyTopic, done)) return;
        taken = await takeNext(tx, providerAccountId, done.agent_id, take);
      },
    );
    if (!take) return completed(row, undefined);
    if (!taken) return completed(row, []);
    tookNext(deps.feed, take, row.agent_id, mark, taken);
    return completed(row, taken);
  } catch (error) {
    await session.abandon();
    throw error;
  }
}
