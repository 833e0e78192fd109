import { describe, expect, it } from "vitest";
import { mediaType } from "./mime.ts";

describe("mediaType", () => {
  it.each([
    ["src/index.ts", "text/x-typescript"],
    ["src/App.tsx", "text/x-typescript"],
    ["lib/util.mts", "text/x-typescript"],
    ["main.py", "text/x-python"],
    ["cmd/server/main.go", "text/x-go"],
    ["src/lib.rs", "text/x-rust"],
    ["README.md", "text/markdown"],
    ["changes.patch", "text/x-diff"],
    ["fix.diff", "text/x-diff"],
    ["scripts/build.sh", "text/x-shellscript"],
    ["findings.sarif", "application/sarif+json"],
    ["Makefile", "text/plain"],
    ["docker/Dockerfile", "text/plain"],
    [".gitignore", "text/plain"],
    ["package.json", "application/json"],
    ["logo.png", "image/png"],
    ["archive.zip", "application/zip"],
    ["data.bin", "application/octet-stream"],
    ["no-extension", "application/octet-stream"],
  ])("%s → %s", (path, type) => {
    expect(mediaType(path)).toBe(type);
  });

  it("goes by the last extension, whatever its case", () => {
    expect(mediaType("Main.PY")).toBe("text/x-python");
    expect(mediaType("archive.tar.gz")).toBe("application/gzip");
  });
});
