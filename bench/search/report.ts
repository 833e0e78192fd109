import { cpus, loadavg, totalmem } from "node:os";
import type { BenchResult } from "./run.ts";
import { SHAPES, searchPath } from "./shapes.ts";

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : "–");

/** The results as Markdown: the machine, one row per shape, the concurrent run, the plans. */
export function formatReport(result: BenchResult, extra: { server?: string } = {}): string {
  const { options } = result;
  const lines: string[] = [];
  lines.push(
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}${extra.server ? `, ${extra.server}` : ""}`,
    `- load average at the end (1, 5, 15 min): ${loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")} — other work on the machine skews every figure`,
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
  const c = result.concurrent;
  lines.push(
    "",
    `${c.clients} clients, ${c.seconds} s: **${c.reqPerSec.toFixed(0)} req/s**, p50 ${c.p50} ms, p99 ${c.p99} ms, ${c.requests} requests, ${c.errors} errors.`,
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
