import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

/** The parts of a V8 `.cpuprofile` (written by `node --cpu-prof`) that the summary reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives: a package, one of the API's modules, Node itself, or V8. */
export function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  const api = /apps\/api\/src\/(.+?)(?:\/[^/]+)?\.ts/.exec(url);
  if (api) return `api:${api[1]}`;
  if (url.startsWith("node:")) return url.split("/")[0]?.replace(/^node:internal/, "node") ?? url;
  return url.replace(/^file:\/\//, "");
}

/**
 * Self time per function and per module of a CPU profile, limited to the samples taken between
 * `fromNs` and `toNs` (the monotonic clock of `process.hrtime.bigint()`, which V8's profiler shares).
 */
export function summarize(
  profile: CpuProfile,
  fromNs?: bigint,
  toNs?: bigint,
): { totalMs: number; functions: Map<string, number>; modules: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const functions = new Map<string, number>();
  const modules = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, ms: number) =>
    map.set(key, (map.get(key) ?? 0) + ms);
  let at = profile.startTime;
  let totalMs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const ns = BigInt(Math.round(at)) * 1000n;
    if ((fromNs !== undefined && ns < fromNs) || (toNs !== undefined && ns > toNs)) continue;
    const frame = byId.get(profile.samples[i] as number);
    if (!frame || frame.functionName === "(idle)") continue;
    const ms = delta / 1000;
    totalMs += ms;
    const where = moduleOf(frame.url, frame.functionName);
    add(functions, `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`, ms);
    add(modules, where, ms);
  }
  return { totalMs, functions, modules };
}

const top = (map: Map<string, number>, n: number, totalMs: number) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(
      ([key, ms]) =>
        `${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / totalMs).toFixed(1).padStart(5)}%  ${key}`,
    )
    .join("\n");

/** `tsx bench/throughput/profile.ts FILE.cpuprofile [--results RESULTS.json] [--top N]`. */
function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { results: { type: "string" }, top: { type: "string", default: "25" } },
  });
  const file = positionals[0];
  if (!file) throw new Error("usage: profile.ts FILE.cpuprofile [--results FILE.json] [--top N]");
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  let window: { startNs: string; endNs: string } | undefined;
  if (values.results) {
    const doc = JSON.parse(readFileSync(values.results, "utf8"));
    // The agnt run this profile's server took part in (with --rounds, one per round).
    const startNs = BigInt(Math.round(profile.startTime)) * 1000n;
    type Run = { system: string; window?: { startNs: string; endNs: string } };
    window = (doc.results as Run[]).find(
      (r) => r.system.startsWith("agnt") && r.window && BigInt(r.window.endNs) > startNs,
    )?.window;
  }
  const from = window ? BigInt(window.startNs) : undefined;
  const to = window ? BigInt(window.endNs) : undefined;
  const { totalMs, functions, modules } = summarize(profile, from, to);
  const n = Number(values.top);
  process.stdout.write(
    `${totalMs.toFixed(0)} ms of CPU samples${window ? " in the timed phase" : ""}\n\nby module:\n${top(modules, n, totalMs)}\n\nby function (self):\n${top(functions, n, totalMs)}\n`,
  );
}

if (process.argv[1]?.endsWith("profile.ts")) main();
