import { describe, expect, it } from "vitest";
import { until } from "../../test/expect.ts";
import type { Db, ListenHandlers } from "../db/types.ts";
import {
  ChangeFeed,
  JOB_CHANNEL,
  type JobChange,
  KNOWN_EMPTY_MS,
  topics,
  waitUntil,
} from "./feed.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A database whose `listen` hands the test the handlers, so it can play the server. */
function fakeDb() {
  const state = { handlers: undefined as ListenHandlers | undefined, channel: "", stopped: 0 };
  const db = {
    kind: "pglite",
    listen: async (channels: string | string[], handlers: ListenHandlers) => {
      state.channel = ([] as string[]).concat(channels).join(",");
      state.handlers = handlers;
      return async () => {
        state.stopped += 1;
      };
    },
  } as unknown as Db;
  const notify = (payload: string) => state.handlers?.onNotify(payload, JOB_CHANNEL);
  return { db, state, notify };
}

const change: JobChange = {
  jobId: "j1",
  agentId: "a1",
  providerAccountId: "p1",
  status: "pending",
};
const payload = JSON.stringify({
  job_id: "j1",
  agent_id: "a1",
  provider_account_id: "p1",
  status: "pending",
});

/** A long-poll of `names` whose reads are counted; `ready` after `readyAfter` reads. */
function poll(
  feed: ChangeFeed,
  names: string[],
  waitMs: number,
  readyAfter = Infinity,
  claims = false,
) {
  const controller = new AbortController();
  let reads = 0;
  const done = waitUntil({
    feed,
    topics: names,
    claims,
    waitMs,
    signal: controller.signal,
    read: async () => ++reads,
    ready: (n) => n >= readyAfter,
  });
  return { done, reads: () => reads, abort: () => controller.abort() };
}

describe("ChangeFeed", () => {
  it("wakes the waiters of the job, its agent and its provider, and no one else", async () => {
    const feed = new ChangeFeed();
    const polls = [
      poll(feed, [topics.job("j1")], 5000),
      poll(feed, [topics.agent("a1")], 5000),
      poll(feed, [topics.provider("p1")], 5000),
      poll(feed, [topics.job("j2"), topics.agent("a2")], 5000),
    ];
    await until(() => feed.waiting === 4);
    feed.publish(change);
    await until(() => feed.waiting === 4 && polls.slice(0, 3).every((p) => p.reads() === 2));
    await sleep(20);
    expect(polls.map((p) => p.reads())).toEqual([2, 2, 2, 1]);
    await feed.close();
    await Promise.all(polls.map((p) => p.done));
    expect(feed.waiting).toBe(0);
  });

  it("is fed by the database's notifications on agnt_jobs", async () => {
    const { db, state, notify } = fakeDb();
    const feed = new ChangeFeed();
    await feed.listen(db);
    expect(state.channel).toBe(JOB_CHANNEL);
    const job = poll(feed, [topics.job("j1")], 5000, 2);
    const other = poll(feed, [topics.job("j2")], 5000);
    await until(() => feed.waiting === 2);
    notify(payload);
    expect(await job.done).toBe(2);
    expect(other.reads()).toBe(1);
    await feed.close();
    expect(state.stopped).toBe(1);
    await other.done;
  });

  it("wakes every waiter once on a reconnection and on a notification it cannot read", async () => {
    const { db, state, notify } = fakeDb();
    const feed = new ChangeFeed();
    await feed.listen(db);
    const polls = Array.from({ length: 5 }, (_, i) => poll(feed, [topics.job(`j${i}`)], 5000));
    await until(() => feed.waiting === 5);
    state.handlers?.onReconnect?.();
    await until(() => feed.waiting === 5 && polls.every((p) => p.reads() === 2));
    notify("not json");
    await until(() => feed.waiting === 5 && polls.every((p) => p.reads() === 3));
    notify(JSON.stringify({ job_id: 1 }));
    await until(() => feed.waiting === 5 && polls.every((p) => p.reads() === 4));
    await feed.close();
    await Promise.all(polls.map((p) => p.done));
  });

  it("does not miss a change that commits while a read runs", async () => {
    const feed = new ChangeFeed();
    let reads = 0;
    const started = Date.now();
    const value = await waitUntil({
      feed,
      topics: [topics.job("j1")],
      waitMs: 5000,
      signal: new AbortController().signal,
      read: async () => {
        reads += 1;
        // The change lands after the row was read but before the poll waits.
        if (reads === 1) feed.publish(change);
        return reads;
      },
      ready: (n) => n >= 2,
    });
    expect(value).toBe(2);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("returns the last value when the time is up, without reading again", async () => {
    const feed = new ChangeFeed();
    const started = Date.now();
    const p = poll(feed, [topics.job("j1")], 200);
    expect(await p.done).toBe(1);
    expect(p.reads()).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it("lets an aborted request go without reading again", async () => {
    const feed = new ChangeFeed();
    const p = poll(feed, [topics.job("j1")], 5000);
    await until(() => feed.waiting === 1);
    p.abort();
    expect(await p.done).toBe(1);
    expect(feed.waiting).toBe(0);
  });

  it("close() wakes every waiter, stops listening, and later waits return at once", async () => {
    const { db, state } = fakeDb();
    const feed = new ChangeFeed();
    await feed.listen(db);
    const p = poll(feed, [topics.job("j1")], 60_000);
    await until(() => feed.waiting === 1);
    await feed.close();
    expect(await p.done).toBe(1);
    expect(feed.closed).toBe(true);
    expect(state.stopped).toBe(1);
    const started = Date.now();
    const late = feed.watch([topics.job("j1")]);
    await late.next(60_000);
    late.stop();
    expect(Date.now() - started).toBeLessThan(100);
    await feed.close();
    expect(state.stopped).toBe(1);
  });

  it("watch() keeps a change made before next() is awaited; next() returns at once after close", async () => {
    const feed = new ChangeFeed();
    const watch = feed.watch([topics.job("j1")]);
    feed.publish(change);
    expect(await watch.next(5000)).toBe(true);
    expect(await watch.next(10)).toBe(false);
    await feed.close();
    const started = Date.now();
    const late = feed.watch([topics.job("j1")]);
    await late.next(60_000);
    expect(Date.now() - started).toBeLessThan(100);
    watch.stop();
    late.stop();
  });

  it("wakes one waiter among 20,000 without touching the others", async () => {
    const feed = new ChangeFeed();
    const polls = Array.from({ length: 20_000 }, (_, i) =>
      poll(feed, [topics.job(`j${i}`), topics.provider("p0")], 60_000),
    );
    await until(() => feed.waiting === 20_000);
    feed.publish({ ...change, jobId: "j7", providerAccountId: "p1" });
    await until(() => polls[7]?.reads() === 2);
    expect(polls.filter((p) => p.reads() !== 1)).toHaveLength(1);
    const started = Date.now();
    await feed.close();
    await Promise.all(polls.map((p) => p.done));
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("delivers a change once when it hears it twice: published here and notified by the database", async () => {
    const { db, notify } = fakeDb();
    const feed = new ChangeFeed();
    await feed.listen(db);
    const p = poll(feed, [topics.job("j1")], 60_000);
    await until(() => feed.waiting === 1);
    const heard = (xid?: string) => JSON.stringify({ ...JSON.parse(payload), xid });
    let reads = 1;
    const expectReads = async (n: number) => {
      await until(() => feed.waiting === 1 && p.reads() === n);
      reads = n;
    };

    feed.publish({ ...change, xid: "100" });
    await expectReads(reads + 1);
    notify(heard("100"));
    // The notification first, then this process's publish: also once.
    notify(heard("101"));
    await expectReads(reads + 1);
    feed.publish({ ...change, xid: "101" });
    // Another transaction's change, and changes without a transaction id, each count.
    notify(heard("102"));
    await expectReads(reads + 1);
    notify(heard());
    await expectReads(reads + 1);
    feed.publish(change);
    await expectReads(reads + 1);
    await sleep(50);
    expect(p.reads()).toBe(6);
    await feed.close();
    await p.done;
  });

  describe("pending jobs", () => {
    const pendingOf = (agentId: string, providerId: string, jobId: string): JobChange => ({
      jobId,
      agentId,
      providerAccountId: providerId,
      status: "pending",
    });

    it("each wakes one claiming poll of its agent or provider, the longest waiting, and every plain watch", async () => {
      const feed = new ChangeFeed();
      // Claimers take a job on their second read (the one a wake-up causes).
      const claimers = [
        poll(feed, [topics.pendingOfAgent("a1")], 60_000, 2, true),
        poll(feed, [topics.pendingOfProvider("p1")], 60_000, 2, true),
        poll(feed, [topics.pendingOfAgent("a1")], 60_000, 2, true),
      ];
      await until(() => feed.waiting === 3);
      const plain = poll(feed, [topics.pendingOfAgent("a1")], 60_000);
      const elsewhere = poll(feed, [topics.pendingOfAgent("a2")], 60_000, 2, true);
      await until(() => feed.waiting === 5);

      feed.publish(pendingOf("a1", "p1", "j1"));
      await claimers[0]?.done;
      await until(() => plain.reads() === 2);
      expect(claimers.map((c) => c.reads())).toEqual([2, 1, 1]);

      feed.publish(pendingOf("a1", "p1", "j2"));
      await claimers[1]?.done;
      feed.publish(pendingOf("a1", "p1", "j3"));
      await claimers[2]?.done;
      await until(() => plain.reads() === 4);
      expect(claimers.map((c) => c.reads())).toEqual([2, 2, 2]);
      expect(elsewhere.reads()).toBe(1);

      // A job leaving pending wakes no pending watch; it wakes the agent's plain watches.
      const agentWatch = poll(feed, [topics.agent("a1")], 60_000);
      await until(() => feed.waiting === 3);
      feed.publish({ ...pendingOf("a1", "p1", "j1"), status: "accepted" });
      await until(() => agentWatch.reads() === 2);
      expect([plain.reads(), elsewhere.reads()]).toEqual([4, 1]);
      await feed.close();
      await Promise.all([plain.done, elsewhere.done, agentWatch.done]);
    });

    it("with 1,000 claiming polls waiting, a job wakes exactly one", async () => {
      const feed = new ChangeFeed();
      const claimers = Array.from({ length: 1000 }, () =>
        poll(feed, [topics.pendingOfAgent("a1")], 60_000, Infinity, true),
      );
      await until(() => feed.waiting === 1000);
      for (let job = 1; job <= 5; job++) {
        feed.publish(pendingOf("a1", "p1", `j${job}`));
        await until(() => feed.waiting === 1000 && claimers[0]?.reads() === job + 1);
      }
      // The same (longest-subscribed, idle again) poll read each time; no other one did.
      expect(claimers.filter((c) => c.reads() !== 1)).toHaveLength(1);
      await feed.close();
      await Promise.all(claimers.map((c) => c.done));
    });

    it("is not missed when every claiming poll is reading: the longest-subscribed reads again", async () => {
      const feed = new ChangeFeed();
      let reads = 0;
      const value = await waitUntil({
        feed,
        topics: [topics.pendingOfAgent("a1")],
        claims: true,
        waitMs: 60_000,
        signal: new AbortController().signal,
        read: async () => {
          reads += 1;
          // The job commits after this read looked, before the poll waits.
          if (reads === 1) feed.publish(pendingOf("a1", "p1", "j1"));
          return reads;
        },
        ready: (n) => n >= 2,
      });
      expect(value).toBe(2);
    });

    it("reconnecting wakes claiming polls too", async () => {
      const { db, state } = fakeDb();
      const feed = new ChangeFeed();
      await feed.listen(db);
      const claimers = Array.from({ length: 3 }, () =>
        poll(feed, [topics.pendingOfAgent("a1")], 60_000, Infinity, true),
      );
      await until(() => feed.waiting === 3);
      state.handlers?.onReconnect?.();
      await until(() => feed.waiting === 3 && claimers.every((c) => c.reads() === 2));
      await feed.close();
      await Promise.all(claimers.map((c) => c.done));
    });
  });

  describe("knowing a holder found nothing to take", () => {
    const topic = topics.pendingOfAgent("a1");
    /** A feed listening on a fake database. */
    async function listening() {
      const fake = fakeDb();
      const feed = new ChangeFeed();
      await feed.listen(fake.db);
      return { ...fake, feed };
    }

    it("holds until a job becomes pending on the topic, for that holder only", async () => {
      const { feed } = await listening();
      feed.foundNone(topic, "exec:x", feed.pendingMark());
      expect(feed.knownEmpty(topic, "exec:x")).toBe(true);
      expect(feed.knownEmpty(topic, "exec:y")).toBe(false);
      expect(feed.knownEmpty(topics.pendingOfAgent("a2"), "exec:x")).toBe(false);
      // Where the holder's last read found nothing (what a completion's next take asks).
      expect(feed.knownEmptyTopic("exec:x")).toBe(topic);
      expect(feed.knownEmptyTopic("exec:y")).toBeUndefined();
      // A job of another agent changes nothing here; one of this agent ends it.
      feed.publish({ ...change, jobId: "j2", agentId: "a2" });
      expect(feed.knownEmpty(topic, "exec:x")).toBe(true);
      feed.publish(change);
      expect(feed.knownEmpty(topic, "exec:x")).toBe(false);
      expect(feed.knownEmptyTopic("exec:x")).toBeUndefined();
      await feed.close();
    });

    it("is not taken from a read during which a job became pending", async () => {
      const { feed } = await listening();
      const mark = feed.pendingMark();
      feed.publish(change); // while the read ran
      feed.foundNone(topic, "exec:x", mark);
      expect(feed.knownEmpty(topic, "exec:x")).toBe(false);
      await feed.close();
    });

    it("is forgotten when notifications may have been missed, and never kept without them", async () => {
      const { db, state, notify } = fakeDb();
      const feed = new ChangeFeed();
      feed.foundNone(topic, "exec:x", feed.pendingMark());
      expect(feed.knownEmpty(topic, "exec:x")).toBe(false); // not listening: other processes unheard
      await feed.listen(db);
      feed.foundNone(topic, "exec:x", feed.pendingMark());
      state.handlers?.onReconnect?.();
      expect(feed.knownEmpty(topic, "exec:x")).toBe(false);
      feed.foundNone(topic, "exec:x", feed.pendingMark());
      notify("not json");
      expect(feed.knownEmpty(topic, "exec:x")).toBe(false);
      // A pending job heard from the database (another process) ends it too.
      feed.foundNone(topic, "exec:x", feed.pendingMark());
      notify(payload);
      expect(feed.knownEmpty(topic, "exec:x")).toBe(false);
      await feed.close();
    });

    it("holds when the new job was handed to a claiming poll, which takes it", async () => {
      const { feed } = await listening();
      const claimer = poll(feed, [topic], 60_000, 2, true);
      await until(() => feed.waiting === 1);
      feed.foundNone(topic, "exec:x", feed.pendingMark());
      feed.publish(change);
      await claimer.done;
      expect(claimer.reads()).toBe(2);
      expect(feed.knownEmpty(topic, "exec:x")).toBe(true);
      await feed.close();
    });

    it("a claiming poll chosen for a job that goes away before reading hands the job on", async () => {
      const { feed } = await listening();
      const first = poll(feed, [topic], 60_000, Infinity, true);
      await until(() => feed.waiting === 1);
      const second = poll(feed, [topic], 60_000, 2, true);
      await until(() => feed.waiting === 2);
      feed.foundNone(topic, "exec:x", feed.pendingMark());
      feed.publish(change); // the first (longest waiting) is chosen…
      first.abort(); // …and goes away before it reads
      await first.done;
      await second.done;
      expect([first.reads(), second.reads()]).toEqual([1, 2]);
      // Handed on to a poll that takes it: still nothing for exec:x to read first.
      expect(feed.knownEmpty(topic, "exec:x")).toBe(true);
      // With no poll left to hand it to, it is news.
      feed.passClaim([topic]);
      expect(feed.knownEmpty(topic, "exec:x")).toBe(false);
      await feed.close();
    });

    it("a claiming poll chosen while reading, that leaves with what it read, hands the job on", async () => {
      const { feed } = await listening();
      let release = () => {};
      const reading = new Promise<void>((resolve) => {
        release = resolve;
      });
      const busy = waitUntil({
        feed,
        topics: [topic],
        claims: true,
        waitMs: 60_000,
        signal: new AbortController().signal,
        read: async () => {
          await reading;
          return "an older job";
        },
        ready: () => true,
      });
      feed.foundNone(topic, "exec:x", feed.pendingMark());
      feed.publish(change); // the only claiming poll is reading: it is chosen…
      expect(feed.knownEmpty(topic, "exec:x")).toBe(true);
      release(); // …and leaves with the job it had read
      expect(await busy).toBe("an older job");
      // No poll is left to take the new job: it is news, and exec:x reads first again.
      expect(feed.knownEmpty(topic, "exec:x")).toBe(false);
      await feed.close();
    });

    it("lapses after KNOWN_EMPTY_MS", async () => {
      const { feed } = await listening();
      feed.foundNone(topic, "exec:x", feed.pendingMark());
      expect(feed.knownEmpty(topic, "exec:x")).toBe(true);
      await sleep(KNOWN_EMPTY_MS + 50);
      expect(feed.knownEmpty(topic, "exec:x")).toBe(false);
      await feed.close();
    });
  });
});
