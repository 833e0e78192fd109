#!/usr/bin/env node
// `npm test`: type-check, lint, then every vitest project; ends with one plain line
// `N passed, N failed` (the type-check and the lint count as one check each).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const extraArgs = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;

function step(name, command, args) {
  console.log(`\n== ${name}: ${command} ${args.join(" ")}`);
  const result = spawnSync(command, args, { stdio: "inherit", shell: false });
  return result.status === 0;
}

const bin = (name) => join("node_modules", ".bin", name);

for (const [name, command, args] of [
  ["type-check", bin("tsc"), ["-p", "tsconfig.json", "--noEmit"]],
  ["lint", bin("biome"), ["check", "--error-on-warnings", "."]],
]) {
  if (step(name, command, args)) passed += 1;
  else failed += 1;
}

const dir = mkdtempSync(join(tmpdir(), "agnt-vitest-"));
const report = join(dir, "report.json");
const testsOk = step("tests", bin("vitest"), [
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${report}`,
  ...extraArgs,
]);
try {
  const json = JSON.parse(readFileSync(report, "utf8"));
  passed += json.numPassedTests;
  failed += json.numFailedTests;
  skipped += json.numPendingTests + json.numTodoTests;
  // A file that fails to load has no failed tests but still fails the run.
  if (!testsOk && json.numFailedTests === 0) failed += Math.max(1, json.numFailedTestSuites);
} catch {
  if (!testsOk) failed += 1;
}
rmSync(dir, { recursive: true, force: true });

console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed === 0 ? 0 : 1);
