import type { ResultDocument, SystemResult } from "./run.ts";
import type { SystemSummary } from "./summary.ts";

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

/** Pickup, and the share of jobs the executor held before the buyer's order was answered. */
function pickup(r: Extract<SystemResult, { status: "ok" }>, jobs: number): string {
  const early = r.pickedBeforeAck / jobs;
  return early > 0
    ? `${ms(r.pickupMs)} (${(early * 100).toFixed(0)} % before ack)`
    : ms(r.pickupMs);
}

function row(r: SystemResult, jobs: number): string[] {
  if (r.status !== "ok") return [r.system, r.db, `unsupported: ${r.reason}`];
  const cpu = r.cpuMsPerJob;
  return [
    r.system,
    r.db,
    r.jobsPerSecond.toFixed(0),
    fixed(r.ratioToPgBoss, 2),
    ms(r.endToEndMs),
    pickup(r, jobs),
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

const table = (lines: string[][]) => lines.map((cells) => `| ${cells.join(" | ")} |`).join("\n");

/**
 * The results as a Markdown table, one row per system and database (and round, after the
 * system, when there are several); with several rounds, then the medians of each system.
 */
export function formatTable(doc: ResultDocument): string {
  const jobs = doc.options.jobs;
  if (doc.options.rounds <= 1)
    return table([HEADER, HEADER.map(() => "---"), ...doc.results.map((r) => row(r, jobs))]);
  const header = ["round", ...HEADER];
  const rounds = table([
    header,
    header.map(() => "---"),
    ...doc.results.map((r) => [String(r.round), ...row(r, jobs)]),
  ]);
  return `${rounds}\n\nMedians over ${doc.options.rounds} rounds (each round's ratio is to pg-boss in that round):\n\n${formatSummary(doc.summary)}`;
}

const SUMMARY_HEADER = [
  "system",
  "db",
  "rounds",
  "jobs/s",
  "× pg-boss (min–max)",
  "CPU ms/job api",
  "postgres",
  "total",
];

/** The medians of each system and database over its rounds, as a Markdown table. */
export function formatSummary(summary: SystemSummary[]): string {
  return table([
    SUMMARY_HEADER,
    SUMMARY_HEADER.map(() => "---"),
    ...summary.map((s) => [
      s.system,
      s.db,
      String(s.rounds),
      s.jobsPerSecond.toFixed(0),
      s.ratioToPgBoss
        ? `${s.ratioToPgBoss.median.toFixed(2)} (${s.ratioToPgBoss.min.toFixed(2)}–${s.ratioToPgBoss.max.toFixed(2)})`
        : "–",
      fixed(s.cpuMsPerJob.api, 2),
      fixed(s.cpuMsPerJob.postgres, 2),
      s.cpuMsPerJob.total.toFixed(2),
    ]),
  ]);
}

/** One line saying what was run, on what. */
export function formatHeading(doc: ResultDocument): string {
  const o = doc.options;
  const m = doc.machine;
  const pg = doc.postgres
    ? `, PostgreSQL ${doc.postgres.server_version} (fsync=${doc.postgres.fsync}, synchronous_commit=${doc.postgres.synchronous_commit})`
    : "";
  const rounds = o.rounds > 1 ? `, ${o.rounds} rounds` : "";
  return `${o.jobs} jobs, ${o.buyers} buyers, ${o.executors} executors, warm-up ${o.warmupJobs}${rounds}; ${m.cpus} CPUs, ${m.memoryGiB} GiB, Node ${m.node}${pg}; load ${m.loadAverage.start.toFixed(1)} → ${m.loadAverage.end.toFixed(1)}; ${doc.date}`;
}
