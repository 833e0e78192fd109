import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { multipart } from "../../test/multipart.ts";
import { multipartBoundary, PartCounter } from "./part-counter.ts";

describe("PartCounter", () => {
  it("counts the parts of a body however it is split into chunks", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1 }),
        (parts, cuts) => {
          const form = multipart(
            Array.from({ length: parts }, (_, i) => ({
              name: "files",
              filename: `${i}.txt`,
              value: "x".repeat(i * 7),
            })),
          );
          const boundary = multipartBoundary(form.headers["content-type"]) as string;
          const counter = new PartCounter(boundary);
          let offset = 0;
          for (let i = 0; offset < form.body.length; i++) {
            const size = cuts[i % cuts.length] as number;
            counter.feed(form.body.subarray(offset, offset + size));
            offset += size;
          }
          expect(counter.parts).toBe(parts);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reads quoted and bare boundary parameters", () => {
    expect(multipartBoundary('multipart/form-data; boundary="a b"')).toBe("a b");
    expect(multipartBoundary("multipart/form-data; boundary=xyz; charset=utf-8")).toBe("xyz");
    expect(multipartBoundary("multipart/form-data")).toBeUndefined();
  });
});
