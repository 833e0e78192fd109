import autocannon from "autocannon";
import { postgresCpuMs, processCpuMs } from "../common/cpu.ts";

export interface SerialResult {
  requests: number;
  p50: number;
  p95: number;
  max: number;
  /** What each variant answered first: its total (and whether it was capped). */
  totals: { path: string; total: number; capped: boolean }[];
}

/** The q-th quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}

async function get(url: string, key: string): Promise<string> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${text}`);
  return text;
}

/**
 * One client: `requests` requests one after the other, cycling through the paths, after
 * `warmup` unmeasured ones. Latency is from sending the request to reading the whole body.
 */
export async function measureSerial(
  baseUrl: string,
  key: string,
  paths: string[],
  options: { requests: number; warmup: number },
): Promise<SerialResult> {
  const totals: SerialResult["totals"] = [];
  for (const path of paths) {
    const body = JSON.parse(await get(baseUrl + path, key)) as {
      total: number;
      total_capped?: boolean;
    };
    totals.push({ path, total: body.total, capped: body.total_capped === true });
  }
  for (let i = 0; i < options.warmup; i += 1) await get(baseUrl + paths[i % paths.length], key);
  const times: number[] = [];
  for (let i = 0; i < options.requests; i += 1) {
    const started = performance.now();
    await get(baseUrl + paths[i % paths.length], key);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return {
    requests: times.length,
    p50: quantile(times, 0.5),
    p95: quantile(times, 0.95),
    max: times.at(-1) ?? Number.NaN,
    totals,
  };
}

export interface ConcurrentResult {
  clients: number;
  seconds: number;
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU milliseconds per request: the API process, the database, this client. */
  cpuPerRequest?: { server: number; database?: number | undefined; client: number };
}

/** Where the CPU goes: the API's process, and the database's processes when they are apart. */
export interface CpuWatch {
  serverPid: number;
  /** The database's name, when its PostgreSQL server runs on this machine (`postgresCpuMs`). */
  database?: string | undefined;
}

/**
 * `clients` connections for `seconds`, each cycling through the paths (autocannon), and the
 * CPU time the API, the database and this client spent per request meanwhile.
 */
export async function measureConcurrent(
  baseUrl: string,
  key: string,
  paths: string[],
  options: { clients: number; seconds: number; cpu?: CpuWatch },
): Promise<ConcurrentResult> {
  const { cpu } = options;
  const server = cpu ? processCpuMs(cpu.serverPid) : undefined;
  const database = cpu?.database ? postgresCpuMs(cpu.database) : undefined;
  const client = process.cpuUsage();
  const result = await autocannon({
    url: baseUrl,
    connections: options.clients,
    duration: options.seconds,
    headers: { authorization: `Bearer ${key}` },
    requests: paths.map((path) => ({ method: "GET" as const, path })),
  });
  const clientUsed = process.cpuUsage(client);
  const perRequest = (ms: number) => ms / Math.max(1, result.requests.total);
  const serverAfter = cpu ? processCpuMs(cpu.serverPid) : undefined;
  const databaseAfter = cpu?.database ? postgresCpuMs(cpu.database) : undefined;
  return {
    clients: options.clients,
    seconds: options.seconds,
    requests: result.requests.total,
    reqPerSec: result.requests.total / options.seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
    ...(server !== undefined && serverAfter !== undefined
      ? {
          cpuPerRequest: {
            server: perRequest(serverAfter - server),
            database:
              database !== undefined && databaseAfter !== undefined
                ? perRequest(databaseAfter - database)
                : undefined,
            client: perRequest((clientUsed.user + clientUsed.system) / 1000),
          },
        }
      : {}),
  };
}
