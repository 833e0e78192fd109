import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat (Linux). */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** CPU seconds (user + system) a process has used so far; undefined where /proc has none. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command may contain spaces: the fields after it start past the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return undefined;
  }
}

/** CPU seconds used by each of `pids` so far (processes gone or unreadable count 0). */
export function snapshot(pids: number[]): Map<number, number> {
  return new Map(pids.map((pid) => [pid, processCpuSeconds(pid) ?? 0]));
}

/** CPU seconds used between two snapshots; a process only in `after` counts from 0. */
export function spent(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/** The machine's CPU pressure (share of time some task waited for a CPU), if the kernel says. */
export function cpuPressure(): string | undefined {
  try {
    const line = readFileSync("/proc/pressure/cpu", "utf8").split("\n")[0] ?? "";
    const avg60 = /avg60=([\d.]+)/.exec(line)?.[1];
    return avg60 === undefined ? undefined : `${avg60} % over the last minute`;
  } catch {
    return undefined;
  }
}
