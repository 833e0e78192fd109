import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times. */
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** utime, stime, cutime, cstime of a process in ms, or undefined once it is gone. */
function times(pid: number | string): [number, number, number, number] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces): state is field 3, utime field 14.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ms = (i: number) => (Number(fields[i - 3]) * 1000) / CLK_TCK;
  return [ms(14), ms(15), ms(16), ms(17)];
}

/** CPU time (user + system) a process has used so far, in ms. */
export function processCpuMs(pid: number): number {
  const t = times(pid);
  if (!t) throw new Error(`process ${pid} is gone`);
  return t[0] + t[1];
}

/**
 * CPU time of every PostgreSQL process on this machine, in ms, or undefined if none is visible.
 * Children's times (cutime, cstime) are included: a backend that exits hands its time to the
 * postmaster's, so the difference of two readings also counts backends that came and went.
 */
export function postgresCpuMs(): number | undefined {
  let total = 0;
  let seen = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      continue;
    }
    if (comm !== "postgres") continue;
    const t = times(pid);
    if (!t) continue;
    seen += 1;
    total += t[0] + t[1] + t[2] + t[3];
  }
  return seen > 0 ? total : undefined;
}
