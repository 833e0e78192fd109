/** Writes docs/openapi.json and docs/errors.md from the contract. Run: npm run openapi */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generatedDocs } from "@agnt/contract";

const docsDir = join(import.meta.dirname, "..", "docs");
for (const [name, text] of Object.entries(generatedDocs())) {
  writeFileSync(join(docsDir, name), text);
  console.log(`wrote docs/${name}`);
}
