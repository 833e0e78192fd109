import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { Recorder } from "./recorder.ts";
import type { Claimed, Driver } from "./systems/types.ts";

/** The shape of one run: how many jobs, created by how many buyer loops, run by how many executors. */
export interface WorkloadShape {
  jobs: number;
  buyers: number;
  executors: number;
}

/** One finished run of the workload. */
export interface WorkloadRun {
  recorder: Recorder;
  /** performance.now() when the buyers started, and of the last completion. */
  startMs: number;
  endMs: number;
  /** The same two instants on the monotonic clock in ns (V8's profiles use it too). */
  startNs: bigint;
  endNs: bigint;
}

const isAbort = (error: unknown) => error instanceof Error && error.name === "AbortError";

/** A run in which no job completes for this long has lost jobs: it fails instead of hanging. */
const STALL_MS = 60_000;

/**
 * Runs the workload once: executor loops take and finish jobs one at a time while buyer loops
 * create `jobs` jobs as fast as they can. Resolves when every job is completed and every loop
 * has stopped; rejects (stopping every loop) on the first error.
 */
export async function runWorkload(driver: Driver, shape: WorkloadShape): Promise<WorkloadRun> {
  const recorder = new Recorder();
  const stop = new AbortController();
  // Each executor's poll (or its sleep on an empty queue) listens to it: not a leak.
  setMaxListeners(shape.executors + 10, stop.signal);
  let issued = 0;
  let completed = 0;
  let endMs = 0;
  let endNs = 0n;

  const executor = async (index: number) => {
    // A job handed over with the last completion, taken without a poll.
    let handed: Claimed | undefined;
    while (!stop.signal.aborted) {
      let job = handed;
      handed = undefined;
      try {
        job ??= await driver.take(index, stop.signal);
      } catch (error) {
        if (stop.signal.aborted && isAbort(error)) return;
        throw error;
      }
      if (!job) continue;
      recorder.pick(job.id, performance.now());
      handed = (await driver.finish(index, job)) ?? undefined;
      const now = performance.now();
      recorder.complete(job.id, now);
      completed += 1;
      progressAt = now;
      if (completed >= shape.jobs) {
        endMs = now;
        endNs = process.hrtime.bigint();
        stop.abort();
      }
    }
  };
  const buyer = async (index: number) => {
    while (issued < shape.jobs && !stop.signal.aborted) {
      issued += 1;
      const id = await driver.create(index);
      recorder.create(id, performance.now());
    }
  };
  let progressAt = performance.now();
  let stalled: Error | undefined;
  const watchdog = setInterval(() => {
    if (performance.now() - progressAt < STALL_MS) return;
    stalled = new Error(
      `no job completed for ${STALL_MS / 1000} s (${completed} of ${shape.jobs} completed)`,
    );
    stop.abort();
  }, 1000);
  const guard = (loop: Promise<void>) =>
    loop.catch((error: unknown) => {
      stop.abort();
      throw error;
    });

  const executors = Array.from({ length: shape.executors }, (_, i) => guard(executor(i)));
  const startMs = performance.now();
  const startNs = process.hrtime.bigint();
  const buyers = Array.from({ length: shape.buyers }, (_, i) => guard(buyer(i)));
  const outcomes = await Promise.allSettled([...buyers, ...executors]);
  clearInterval(watchdog);
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  if (failure) throw failure.reason;
  if (stalled) throw stalled;
  recorder.verify(shape.jobs);
  return { recorder, startMs, endMs, startNs, endNs };
}
