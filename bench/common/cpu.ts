import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc times. */
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
const tickMs = (ticks: string | undefined) => (Number(ticks) * 1000) / CLK_TCK;

/** utime + stime of a process in ms, or undefined once it is gone. */
function ownCpuMs(pid: number | string): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces) start with field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return tickMs(fields[14 - 3]) + tickMs(fields[15 - 3]);
}

/** CPU time (user + system) a process has used so far, in ms. */
export function processCpuMs(pid: number): number {
  const ms = ownCpuMs(pid);
  if (ms === undefined) throw new Error(`process ${pid} is gone`);
  return ms;
}

const read = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/**
 * CPU time of the PostgreSQL processes that serve `database`, in ms, or undefined if none is
 * visible: the postmaster, the shared background processes (checkpointer, WAL writer, …) and
 * the client backends connected to that database. Backends of other databases (someone else's
 * work on a shared server) are left out, as are exited processes: the benchmark's connections
 * stay open for the whole timed phase.
 */
export function postgresCpuMs(database: string): number | undefined {
  let total = 0;
  let seen = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || read(`/proc/${pid}/comm`)?.trim() !== "postgres") continue;
    const title = read(`/proc/${pid}/cmdline`)?.replace(/\0/g, " ") ?? "";
    // A client backend's title: "postgres: 15/main: <user> <database> <host(port)|[local]> <state>".
    const backend = /^postgres: \S+: \S+ (\S+) (?:\S+\(\d+\)|\[local\])/.exec(title);
    if (backend && backend[1] !== database) continue;
    const ms = ownCpuMs(pid);
    if (ms === undefined) continue;
    seen += 1;
    total += ms;
  }
  return seen > 0 ? total : undefined;
}

/** Busy CPU time of the whole machine (all cores, everything but idle and I/O wait), in ms. */
export function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/);
  return [user, nice, system, irq, softirq, steal].reduce((sum, t) => sum + tickMs(t), 0);
}

/** The machine's CPU pressure (share of time some task waited for a CPU), if the kernel says. */
export function cpuPressure(): string | undefined {
  const line = read("/proc/pressure/cpu")?.split("\n")[0] ?? "";
  const avg60 = /avg60=([\d.]+)/.exec(line)?.[1];
  return avg60 === undefined ? undefined : `${avg60} % over the last minute`;
}
