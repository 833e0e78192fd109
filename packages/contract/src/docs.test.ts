import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generatedDocs } from "./docs.ts";

const docsDir = join(import.meta.dirname, "..", "..", "..", "docs");

describe("generated docs", () => {
  for (const [name, text] of Object.entries(generatedDocs())) {
    it(`docs/${name} is up to date with the contract (run \`npm run openapi\` to refresh)`, () => {
      expect(readFileSync(join(docsDir, name), "utf8")).toBe(text);
    });
  }
});
