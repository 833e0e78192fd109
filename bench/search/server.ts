import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

/** The repository root (this file is bench/search/server.ts). */
export const ROOT = join(import.meta.dirname, "..", "..");
const SERVER_BIN = join(ROOT, "apps", "api", "bin", "agnt-server.js");

/** Where `agnt-server` finds its database: a server URL, or the embedded one in a data dir. */
export interface ServerEnv {
  databaseUrl?: string | undefined;
  dataDir: string;
}

function serverEnv(target: ServerEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AGNT_DATA_DIR: target.dataDir,
    LOG_LEVEL: "warn",
  };
  delete env.DATABASE_URL;
  delete env.NODE_ENV;
  if (target.databaseUrl) env.DATABASE_URL = target.databaseUrl;
  return env;
}

/** Runs one `agnt-server` command to its end; resolves with its stdout. */
export function runServerCommand(target: ServerEnv, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER_BIN, ...args], {
      env: serverEnv(target),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`agnt-server ${args.join(" ")} exited ${code}: ${stderr.trim()}`));
    });
  });
}

/** Applies the API's migrations with `agnt-server migrate`. */
export async function migrateWithServer(target: ServerEnv): Promise<void> {
  await runServerCommand(target, ["migrate"]);
}

/** Creates a buyer account with `agnt-server keys create`; returns its key. */
export async function createBuyerKey(target: ServerEnv): Promise<string> {
  const out = await runServerCommand(target, [
    "keys",
    "create",
    "--role",
    "buyer",
    "--name",
    "bench",
  ]);
  const { key } = JSON.parse(out) as { key: string };
  return key;
}

export interface RunningServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `agnt-server start` on a free port and waits for its `listening on` line. */
export function startServer(target: ServerEnv): Promise<RunningServer> {
  const child: ChildProcess = spawn(process.execPath, [SERVER_BIN, "start"], {
    env: { ...serverEnv(target), HOST: "127.0.0.1", PORT: "0" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  return new Promise((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`agnt-server did not start within 60 s: ${stderr.trim()}`));
    }, 60_000);
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ url: match[1], pid: child.pid as number, stop });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`agnt-server exited ${code} before listening: ${stderr.trim()}`));
    });
  });
}
