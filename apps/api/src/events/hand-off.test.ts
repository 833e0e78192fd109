import { describe, expect, it } from "vitest";
import { sleep, until } from "../../test/expect.ts";
import { ChangeFeed, type Taker, topics, waitUntil } from "./feed.ts";

/**
 * A job ordered while an executor's claiming poll waits can be promised to that poll, inserted
 * already taken for it, and delivered once committed (`ChangeFeed.promise`, the orders' batch
 * in jobs/service.ts). These tests play the order's side against the feed.
 */

/** A job being ordered for agent a1 of provider p1. */
const job = { agentId: "a1", providerAccountId: "p1" };
const taker = (executorId: string): Taker => ({ kind: "start", leaseSeconds: 60, executorId });

/** A claiming poll of agent a1 whose reads find nothing; with `taker`, it may be handed jobs. */
function claimingPoll(
  feed: ChangeFeed,
  options: { taker?: Taker; waitMs?: number; signal?: AbortSignal } = {},
) {
  let reads = 0;
  let finished = false;
  const done = waitUntil<unknown[]>({
    feed,
    topics: [topics.pendingOfAgent("a1")],
    claims: true,
    handOff: options.taker && { taker: options.taker, handed: (jobs) => jobs },
    waitMs: options.waitMs ?? 60_000,
    signal: options.signal ?? new AbortController().signal,
    read: async () => {
      reads += 1;
      return [];
    },
    ready: (jobs) => jobs.length > 0,
  }).finally(() => {
    finished = true;
  });
  return { done, reads: () => reads, finished: () => finished };
}

/** A claiming poll that may be handed jobs, waiting `waitMs` at most, once promised one. */
async function promisedPoll(feed: ChangeFeed, waitMs: number) {
  const poll = claimingPoll(feed, { taker: taker("exec-a"), waitMs });
  await until(() => feed.waiting === 1);
  return { poll, promised: feed.promise(job) };
}

describe("ChangeFeed.promise: a job handed to a waiting claiming poll at its order", () => {
  it("goes to the poll that has waited longest, which returns it without reading again", async () => {
    const feed = new ChangeFeed();
    const first = claimingPoll(feed, { taker: taker("exec-a") });
    await until(() => feed.waiting === 1);
    const second = claimingPoll(feed, { taker: taker("exec-b") });
    await until(() => feed.waiting === 2);

    const promised = feed.promise(job);
    expect(promised?.taker.executorId).toBe("exec-a");
    promised?.deliver("job-1");
    expect(await first.done).toEqual(["job-1"]);
    expect(first.reads()).toBe(1);

    const next = feed.promise(job);
    expect(next?.taker.executorId).toBe("exec-b");
    next?.deliver("job-2");
    expect(await second.done).toEqual(["job-2"]);
    expect(second.reads()).toBe(1);
    await feed.close();
  });

  it("a promised poll is not promised again, nor chosen for a pending job meanwhile", async () => {
    const feed = new ChangeFeed();
    const poll = claimingPoll(feed, { taker: taker("exec-a") });
    await until(() => feed.waiting === 1);
    const promised = feed.promise(job);
    expect(promised).toBeDefined();
    expect(feed.promise(job)).toBeUndefined();
    // A pending job goes to the next claiming poll, not to the promised one, which has waited longer.
    const other = claimingPoll(feed);
    await until(() => feed.waiting === 2);
    feed.publish({ jobId: "j9", agentId: "a1", providerAccountId: "p1", status: "pending" });
    await until(() => other.reads() === 2);
    expect(poll.reads()).toBe(1);
    promised?.deliver("job-1");
    expect(await poll.done).toEqual(["job-1"]);
    await feed.close();
    await other.done;
  });

  it("only polls that may be handed jobs are promised one, and not once aborted", async () => {
    const feed = new ChangeFeed();
    // A claiming poll that reserves (no taker), and a plain watch of the pending topic.
    const reserving = claimingPoll(feed);
    const plain = feed.watch([topics.pendingOfAgent("a1")]);
    await until(() => feed.waiting === 1);
    expect(feed.promise(job)).toBeUndefined();
    const abort = new AbortController();
    const aborted = claimingPoll(feed, { taker: taker("exec-a"), signal: abort.signal });
    await until(() => feed.waiting === 2);
    abort.abort();
    await aborted.done;
    expect(feed.promise(job)).toBeUndefined();
    plain.stop();
    await feed.close();
    await reserving.done;
  });

  it("a poll whose time runs out while promised waits for the job", async () => {
    const feed = new ChangeFeed();
    const { poll, promised } = await promisedPoll(feed, 30);
    await sleep(150);
    expect(poll.finished()).toBe(false);
    promised?.deliver("job-1");
    expect(await poll.done).toEqual(["job-1"]);
    await feed.close();
  });

  it("a promised poll woken meanwhile (a reconnection wakes every waiter) still gets the job", async () => {
    const feed = new ChangeFeed();
    const { poll, promised } = await promisedPoll(feed, 30);
    feed.wakeAll();
    await sleep(150);
    expect(poll.finished()).toBe(false);
    expect(poll.reads()).toBe(1);
    promised?.deliver("job-1");
    expect(await poll.done).toEqual(["job-1"]);
    await feed.close();
  });

  it("released, a poll waits on (or, past its time, returns what it read)", async () => {
    const feed = new ChangeFeed();
    const poll = claimingPoll(feed, { taker: taker("exec-a") });
    await until(() => feed.waiting === 1);
    feed.promise(job)?.release();
    await sleep(20);
    expect(poll.finished()).toBe(false);
    feed.promise(job)?.deliver("job-2");
    expect(await poll.done).toEqual(["job-2"]);

    const { poll: late, promised } = await promisedPoll(feed, 30);
    await sleep(150);
    promised?.release();
    expect(await late.done).toEqual([]);
    expect(late.reads()).toBe(1);
    await feed.close();
  });
});
