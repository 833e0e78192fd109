import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HOSTILE_NAMES, SAFE_NAMES } from "../../test/hostile-names.ts";
import { checkFileName, MAX_DEPTH, MAX_PATH_BYTES, MAX_SEGMENT_BYTES } from "./names.ts";

const POSIX_BASE = "/base/job";
const WIN_BASE = "C:\\base\\job";

/** Shows a name in a test title: printable ASCII as is, everything else as `\u{…}`, cut short. */
function shown(name: string): string {
  let out = "";
  for (const char of name) {
    const code = char.codePointAt(0) ?? 0;
    const piece = code >= 0x20 && code < 0x7f ? char : `\\u{${code.toString(16)}}`;
    if (out.length + piece.length > 60) return `${out}… (${name.length} units)`;
    out += piece;
  }
  return name === "" ? "(empty)" : out;
}

/** True when `name`, resolved under both a POSIX and a Windows base folder, lands strictly inside. */
function staysInside(name: string): boolean {
  const posix = path.posix.resolve(POSIX_BASE, name);
  const win = path.win32.resolve(WIN_BASE, name);
  return posix.startsWith(`${POSIX_BASE}/`) && win.startsWith(`${WIN_BASE}\\`);
}

// Characters a reason must never carry (it is shown to people, in logs and terminals).
const UNPRINTABLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

function expectReadableReason(reason: string) {
  expect(typeof reason).toBe("string");
  expect(reason.trim()).not.toBe("");
  expect(reason.length).toBeLessThan(200);
  expect(reason).not.toMatch(UNPRINTABLE);
}

// Pieces that tend to make dangerous names when glued together.
const FRAGMENTS = [
  "..",
  ".",
  "/",
  "\\",
  "%2e",
  "%2f",
  "%5c",
  "%",
  "C:",
  "c:",
  ":",
  "~",
  "\u0000",
  "\u202e",
  "\u200b",
  "\ufeff",
  " ",
  "\u00a0",
  "\u3000",
  "\t",
  "\n",
  "a",
  "b",
  "x.txt",
  "con",
  "NUL",
  "com\u00b9",
  "\uff0e",
  "\uff0f",
  "\uff3c",
  "\uff1a",
  "\u2024",
  "\u2025",
  "\ufe52",
  "\u00e9",
  "\u{1f600}",
  "\ud800",
  "\udc00",
];

const fragmentNames = fc
  .array(fc.constantFrom(...FRAGMENTS), { maxLength: 16 })
  .map((parts) => parts.join(""));
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const mixedUnits = fc.oneof(
  fc.constantFrom(...FRAGMENTS),
  fc.string({ unit: "grapheme", maxLength: 3 }),
  fc.string({ unit: "binary", maxLength: 3 }),
  loneSurrogate,
);
const anyName = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "grapheme-composite" }),
  fc.string({ unit: "binary" }),
  fc.string({ unit: "binary-ascii" }),
  fc.string({ unit: mixedUnits, maxLength: 12 }),
  fragmentNames,
);

describe("checkFileName", () => {
  it("has the documented limits", () => {
    expect(MAX_PATH_BYTES).toBe(1024);
    expect(MAX_SEGMENT_BYTES).toBe(255);
    expect(MAX_DEPTH).toBe(32);
  });

  describe("hostile names", () => {
    it("has a corpus of at least 120 distinct names", () => {
      const names = new Set(HOSTILE_NAMES.map((entry) => entry.name));
      expect(names.size).toBe(HOSTILE_NAMES.length);
      expect(names.size).toBeGreaterThanOrEqual(120);
      for (const entry of HOSTILE_NAMES) expect(entry.why.trim()).not.toBe("");
    });

    it.each(HOSTILE_NAMES.map((entry) => ({ ...entry, shown: shown(entry.name) })))(
      "refuses $why: $shown",
      ({ name }) => {
        const result = checkFileName(name);
        expect(result.ok).toBe(false);
        if (!result.ok) expectReadableReason(result.reason);
      },
    );
  });

  describe("safe names", () => {
    it("has at least 25 distinct names, none of them hostile", () => {
      const names = new Set(SAFE_NAMES);
      expect(names.size).toBe(SAFE_NAMES.length);
      expect(names.size).toBeGreaterThanOrEqual(25);
      const hostile = new Set(HOSTILE_NAMES.map((entry) => entry.name));
      expect(SAFE_NAMES.filter((name) => hostile.has(name))).toEqual([]);
    });

    it("includes names right at each limit", () => {
      const bytes = (text: string) => Buffer.byteLength(text, "utf8");
      const segmentBytes = SAFE_NAMES.flatMap((name) => name.split("/").map(bytes));
      expect(Math.max(...segmentBytes)).toBe(MAX_SEGMENT_BYTES);
      expect(Math.max(...SAFE_NAMES.map(bytes))).toBe(MAX_PATH_BYTES);
      expect(Math.max(...SAFE_NAMES.map((name) => name.split("/").length))).toBe(MAX_DEPTH);
    });

    it.each(SAFE_NAMES.map((name) => ({ name, shown: shown(name) })))(
      "accepts $shown unchanged",
      ({ name }) => {
        expect(checkFileName(name)).toEqual({ ok: true, path: name });
        expect(staysInside(name)).toBe(true);
      },
    );
  });

  describe("any string", () => {
    it("accepts only names that stay inside their folder, on POSIX and Windows, NFKC or not", () => {
      let accepted = 0;
      fc.assert(
        fc.property(anyName, (name) => {
          const result = checkFileName(name);
          if (!result.ok) {
            expectReadableReason(result.reason);
            return;
          }
          accepted++;
          expect(result.path).toBe(name);
          expect(name).not.toContain("\\");
          expect(name).not.toContain("\u0000");
          expect(staysInside(name), `${shown(name)} escapes`).toBe(true);
          const folded = name.normalize("NFKC");
          expect(staysInside(folded), `${shown(name)} escapes once NFKC-normalized`).toBe(true);
        }),
        { numRuns: 2000 },
      );
      // The property must not hold only because everything was refused.
      expect(accepted).toBeGreaterThan(50);
    });

    it("refuses every name built around a `..` segment, whatever surrounds it", () => {
      const segment = fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 });
      fc.assert(
        fc.property(
          fc.array(segment, { maxLength: 4 }),
          fc.array(segment, { maxLength: 4 }),
          fc.constantFrom("..", ".", "\uff0e\uff0e", "\u2025", "\u2024\u2024", "\ufe52\ufe52"),
          (before, after, dots) => {
            const result = checkFileName([...before, dots, ...after].join("/"));
            expect(result.ok).toBe(false);
          },
        ),
        { numRuns: 500 },
      );
    });
  });
});
