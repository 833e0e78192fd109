import { describe, expect, it } from "vitest";
import { Batcher } from "./batcher.ts";

/** A batcher whose batches the test releases by hand, recording each batch's items. */
function manual() {
  const batches: number[][] = [];
  const release: (() => void)[] = [];
  const batcher = new Batcher<number, string>(
    async (items) => {
      batches.push(items);
      await new Promise<void>((resolve) => release.push(resolve));
      if (items.includes(13)) throw new Error("unlucky");
      return items.map((n) => `#${n}`);
    },
    { maxBatch: 3 },
  );
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { batcher, batches, release, settle };
}

describe("Batcher", () => {
  it("runs a lone item at once, alone", async () => {
    const { batcher, batches, release, settle } = manual();
    const one = batcher.submit(1);
    await settle();
    expect(batches).toEqual([[1]]);
    release.shift()?.();
    expect(await one).toBe("#1");
  });

  it("sends what comes while a batch runs as the next batch, at most maxBatch at a time", async () => {
    const { batcher, batches, release, settle } = manual();
    const results = [1, 2, 3, 4, 5, 6].map((n) => batcher.submit(n));
    await settle();
    expect(batches).toEqual([[1]]);
    release.shift()?.();
    await settle();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    release.shift()?.();
    await settle();
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6]]);
    release.shift()?.();
    expect(await Promise.all(results)).toEqual(["#1", "#2", "#3", "#4", "#5", "#6"]);
  });

  it("runs a failed batch's items again alone: only the bad one fails", async () => {
    const { batcher, batches, release, settle } = manual();
    const first = batcher.submit(1);
    const rest = [12, 13, 14].map((n) => batcher.submit(n).catch((error: Error) => error.message));
    await settle();
    release.shift()?.();
    await first;
    // The batch [12, 13, 14] fails, then each runs alone.
    for (let n = 0; n < 4; n++) {
      await settle();
      release.shift()?.();
    }
    expect(await Promise.all(rest)).toEqual(["#12", "unlucky", "#14"]);
    expect(batches).toEqual([[1], [12, 13, 14], [12], [13], [14]]);
  });
});
