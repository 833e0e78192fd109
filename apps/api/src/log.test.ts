import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { until } from "../test/expect.ts";
import { bufferedDestination } from "./log.ts";

const dir = mkdtempSync(join(tmpdir(), "agnt-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (file: string) => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
};

describe("the buffered log destination", () => {
  it("holds short lines back, then writes them within its flush interval", async () => {
    const file = join(dir, "quiet.log");
    const destination = bufferedDestination({ dest: file, flushMs: 50 });
    destination.write('{"msg":"one"}\n');
    destination.write('{"msg":"two"}\n');
    // Far below 4 KiB: nothing is written at once.
    expect(read(file)).toBe("");
    await until(() => read(file) === '{"msg":"one"}\n{"msg":"two"}\n', 20_000);
    destination.close();
  });

  it("writes a busy server's lines in chunks, and everything on close", async () => {
    const file = join(dir, "busy.log");
    const destination = bufferedDestination({ dest: file, flushMs: 60_000 });
    const line = `${JSON.stringify({ msg: "request", pad: "x".repeat(100) })}\n`;
    for (let n = 0; n < 100; n++) destination.write(line);
    // Past 4 KiB, chunks go out without waiting for the interval.
    await until(() => read(file).length >= 4096, 20_000);
    destination.close();
    expect(read(file)).toBe(line.repeat(100));
  });
});
