import { cpus, loadavg, totalmem } from "node:os";
import { cpuPressure } from "../common/cpu.ts";
import type { BenchResult } from "./run.ts";
import { SHAPES, searchPath } from "./shapes.ts";

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : "–");

/** The results as Markdown: the machine, one row per shape, the concurrent run, the plans. */
export function formatReport(result: BenchResult, extra: { server?: string } = {}): string {
  const { options } = result;
  const pressure = cpuPressure();
  const lines: string[] = [];
  lines.push(
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}${extra.server ? `, ${extra.server}` : ""}`,
    `- load average at the end (1, 5, 15 min): ${loadavg()
      .map((l) => l.toFixed(2))
      .join(
        ", ",
      )}${pressure ? `; CPU pressure ${pressure}` : ""} — other work on the machine skews every figure`,
    `- database: ${options.db}, ${options.agents} agents (inserted and analyzed in ${result.loadSeconds.toFixed(1)} s)`,
    `- one client: ${options.requests} requests per shape after ${options.warmup} warm-up; ${options.clients} clients: ${options.duration} s over the mix of every variant`,
    "",
    "| shape | what | p50 ms | p95 ms | max ms | totals of the variants |",
    "| --- | --- | ---: | ---: | ---: | --- |",
  );
  for (const row of result.serial) {
    const what = SHAPES.find((shape) => shape.name === row.shape)?.what ?? "";
    const totals = row.totals.map((t) => `${t.total}${t.capped ? "+" : ""}`).join(", ");
    lines.push(
      `| ${row.shape}${row.goal ? "" : " (degenerate)"} | ${what} | ${ms(row.p50)} | ${ms(row.p95)} | ${ms(row.max)} | ${totals} |`,
    );
  }
  const cpu = (r: BenchResult["concurrent"]) => {
    const per = r.cpuPerRequest;
    if (!per) return "";
    const database = per.database === undefined ? "" : `, PostgreSQL ${ms(per.database)}`;
    return ` CPU ms per request: API process ${ms(per.server)}${database}, client ${ms(per.client)}.`;
  };
  const c = result.concurrent;
  const f = result.floor;
  lines.push(
    "",
    `${c.clients} clients, ${c.seconds} s over the mix: **${c.reqPerSec.toFixed(0)} req/s**, p50 ${c.p50} ms, p99 ${c.p99} ms, ${c.requests} requests, ${c.errors} errors.${cpu(c)}`,
    "",
    `For reference, the same clients on the cheapest search (\`?limit=1\`: the newest agent): ${f.reqPerSec.toFixed(0)} req/s, p99 ${f.p99} ms.${cpu(f)}`,
    "",
    "Plans (`EXPLAIN (ANALYZE, BUFFERS)`, first variant of each shape, warm):",
    "",
    "| shape | statement | scans | execution ms |",
    "| --- | --- | --- | ---: |",
  );
  for (const e of result.explained) {
    lines.push(`| ${e.shape} | ${e.statement} | ${e.scans.join("; ")} | ${ms(e.executionMs)} |`);
  }
  lines.push("");
  for (const e of result.explained) {
    lines.push(
      `<details><summary>${e.shape} — ${e.statement}: <code>${searchPath(e.query)}</code></summary>`,
      "",
      "```",
      e.plan,
      "```",
      "</details>",
      "",
    );
  }
  return lines.join("\n");
}
