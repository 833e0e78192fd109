// `npm run bench:search -- [options]`: catalogue search at marketplace scale. See README.md.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { connectPostgres } from "./db.ts";
import { formatReport } from "./report.ts";
import { type BenchOptions, runSearchBench } from "./run.ts";

const USAGE = `npm run bench:search -- [options]
  --db postgres|pglite   database (default postgres; pglite: the embedded mode)
  --database-url URL     PostgreSQL server for the scratch database
                         (default postgres://postgres@127.0.0.1:5432/postgres)
  --agents N             agents to generate (default 100000)
  --requests N           measured requests per shape at one client (default 200)
  --warmup N             unmeasured requests per shape first (default 20)
  --clients N            concurrent clients over the mix (default 20)
  --duration S           seconds of the concurrent run (default 15)
  --report FILE          also write the Markdown report (with every plan) to FILE
  --json FILE            also write the raw results as JSON to FILE
  --keep                 keep the database instead of dropping it`;

const { values } = parseArgs({
  options: {
    db: { type: "string", default: "postgres" },
    "database-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
    agents: { type: "string", default: "100000" },
    requests: { type: "string", default: "200" },
    warmup: { type: "string", default: "20" },
    clients: { type: "string", default: "20" },
    duration: { type: "string", default: "15" },
    report: { type: "string" },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

const count = (name: keyof typeof values, min: number): number => {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`--${name} must be an integer ≥ ${min}\n${USAGE}`);
  }
  return value;
};

if (values.help) {
  console.log(USAGE);
} else {
  if (values.db !== "postgres" && values.db !== "pglite") {
    throw new Error(`--db must be postgres or pglite\n${USAGE}`);
  }
  const options: BenchOptions = {
    db: values.db,
    databaseUrl: values["database-url"],
    agents: count("agents", 1),
    requests: count("requests", 1),
    warmup: count("warmup", 0),
    clients: count("clients", 1),
    duration: count("duration", 1),
    keep: values.keep,
    log: (line) => console.error(`[bench:search] ${line}`),
  };
  const result = await runSearchBench(options);
  let server: string | undefined;
  if (options.db === "postgres") {
    const db = await connectPostgres(options.databaseUrl);
    const rows = await db.query<{ server_version: string }>("SHOW server_version");
    server = `PostgreSQL ${rows[0]?.server_version}`;
    await db.close();
  } else {
    server = "PGlite (embedded)";
  }
  const report = formatReport(result, { server });
  console.log(report.slice(0, report.indexOf("<details>")));
  if (values.report) writeFileSync(values.report, report);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
}
