import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

/** Runs agnt-server as a separate process, as operators do. */
const BIN = join(import.meta.dirname, "..", "bin", "agnt-server.js");

/** The environment of a child agnt-server: ours minus database settings, plus `extra`. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const { DATABASE_URL: _d, NODE_ENV: _n, ...rest } = process.env;
  return { ...rest, LOG_LEVEL: "warn", PORT: "0", ...extra };
}

/** Runs a one-off command and parses its JSON output. */
export function run(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: baseEnv(env),
    encoding: "utf8",
    timeout: 180_000,
  });
  const parse = (text: string) => {
    try {
      return JSON.parse(text.trim().split("\n").pop() ?? "");
    } catch {
      return undefined;
    }
  };
  return {
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    json: parse(result.stdout),
    error: parse(result.stderr),
  };
}

export interface Server {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** Starts `agnt-server start` and resolves once it prints where it listens. */
export function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [BIN, "start"], {
    env: baseEnv(env),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      // Never leave a server behind a test that gave up on it.
      child.kill("SIGKILL");
      reject(new Error(`server did not start:\n${err}`));
    }, 180_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const match = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: match[1], stderr: () => err });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${err}`));
    });
  });
}

export function stop(server: Server): Promise<number | null> {
  return new Promise((resolve) => {
    server.child.once("exit", (code) => resolve(code));
    server.child.kill("SIGTERM");
  });
}
