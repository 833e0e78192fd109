import type { ResultDocument, SystemResult } from "./run.ts";

const HEADER = [
  "system",
  "db",
  "jobs/s",
  "× pg-boss",
  "e2e p50 / p99 ms",
  "pickup p50 / p99 ms",
  "409s/job",
  "HTTP req/job",
  "xact/job",
  "rows/job",
  "CPU ms/job api",
  "postgres",
  "bench",
  "total",
  "others",
  "wall s",
];

const fixed = (value: number | null, digits: number) =>
  value === null ? "–" : value.toFixed(digits);
const ms = (p: { p50: number; p99: number }) =>
  `${p.p50 < 10 ? p.p50.toFixed(1) : p.p50.toFixed(0)} / ${p.p99 < 10 ? p.p99.toFixed(1) : p.p99.toFixed(0)}`;

function row(r: SystemResult): string[] {
  if (r.status !== "ok") return [r.system, r.db, `unsupported: ${r.reason}`];
  const cpu = r.cpuMsPerJob;
  return [
    r.system,
    r.db,
    r.jobsPerSecond.toFixed(0),
    fixed(r.ratioToPgBoss, 2),
    ms(r.endToEndMs),
    ms(r.pickupMs),
    r.conflictsPerJob.toFixed(2),
    fixed(r.httpRequestsPerJob, 2),
    fixed(r.transactionsPerJob, 1),
    fixed(r.rowsWrittenPerJob, 1),
    fixed(cpu.api, 2),
    fixed(cpu.postgres, 2),
    cpu.bench.toFixed(2),
    cpu.total.toFixed(2),
    cpu.others.toFixed(2),
    (r.wallMs / 1000).toFixed(1),
  ];
}

/** The results as a Markdown table, one row per system and database. */
export function formatTable(doc: ResultDocument): string {
  const lines = [HEADER, HEADER.map(() => "---"), ...doc.results.map(row)];
  return lines.map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/** One line saying what was run, on what. */
export function formatHeading(doc: ResultDocument): string {
  const o = doc.options;
  const m = doc.machine;
  const pg = doc.postgres
    ? `, PostgreSQL ${doc.postgres.server_version} (fsync=${doc.postgres.fsync}, synchronous_commit=${doc.postgres.synchronous_commit})`
    : "";
  return `${o.jobs} jobs, ${o.buyers} buyers, ${o.executors} executors, warm-up ${o.warmupJobs}; ${m.cpus} CPUs, ${m.memoryGiB} GiB, Node ${m.node}${pg}; load ${m.loadAverage.start.toFixed(1)} → ${m.loadAverage.end.toFixed(1)}; ${doc.date}`;
}
