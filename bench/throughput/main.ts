import { writeFileSync } from "node:fs";
import { parseOptions, USAGE } from "./options.ts";
import { formatHeading, formatTable } from "./report.ts";
import { runBenchmark } from "./run.ts";

/** `npm run bench:throughput`: agnt over HTTP vs pg-boss vs a raw SQL queue, same workload. */
async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const doc = await runBenchmark(parsed.options, (line) => process.stderr.write(`${line}\n`));
  if (parsed.out) writeFileSync(parsed.out, `${JSON.stringify(doc, null, 2)}\n`);
  if (parsed.json) {
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatHeading(doc)}\n\n${formatTable(doc)}\n`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench:throughput failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
