import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";

/** The operators' entry point of the API. */
const BIN = resolve(import.meta.dirname, "../../apps/api/bin/agnt-server.js");

/**
 * The environment of a child agnt-server: ours without any agnt, database or NODE_ENV setting
 * (so the server's shipped defaults apply), plus `extra`.
 */
export function serverEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(AGNT_|DATABASE_URL$|NODE_ENV$|LOG_LEVEL$|PORT$|HOST$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs a one-off `agnt-server` command and returns its JSON output; throws on failure. */
export function runCommand(args: string[], env: Record<string, string>): Record<string, unknown> {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: serverEnv(env),
    encoding: "utf8",
    timeout: 120_000,
  });
  if (result.status !== 0) {
    throw new Error(`agnt-server ${args.join(" ")} failed (${result.status}): ${result.stderr}`);
  }
  return JSON.parse(result.stdout.trim().split("\n").pop() ?? "");
}

/** A running server process (`agnt-server start`, or another started by `startListening`). */
export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  /** Stops it with SIGTERM (SIGKILL after 15 s) and resolves once it exited. */
  stop(): Promise<void>;
}

/**
 * Starts `node [nodeArgs] agnt-server.js start` and resolves once it prints where it listens
 * (`startListening`).
 */
export function startServer(
  env: Record<string, string>,
  nodeArgs: string[],
): Promise<ServerProcess> {
  return startListening("agnt-server", [...nodeArgs, BIN, "start"], env);
}

/**
 * Starts `node args` with `serverEnv(env)` and resolves once it prints `listening on URL` on
 * stderr (the agnt server, or another HTTP server a benchmark compares it with). Its stdout
 * (a request log) goes to /dev/null; stderr is kept, last 64 KiB, for errors.
 */
export function startListening(
  name: string,
  args: string[],
  env: Record<string, string>,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, {
    env: serverEnv(env),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  let exited = child.exitCode !== null;
  child.once("exit", () => {
    exited = true;
  });
  const stop = () =>
    new Promise<void>((done) => {
      if (exited) return done();
      const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.once("exit", () => {
        clearTimeout(kill);
        done();
      });
      child.kill("SIGTERM");
    });
  let started = false;
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name} did not start in 120 s:\n${stderr}`));
    }, 120_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-65_536);
      const match = /listening on (http:\/\/[^\s]+)/.exec(stderr);
      if (!started && match?.[1] && child.pid !== undefined) {
        started = true;
        clearTimeout(timer);
        resolvePromise({ child, pid: child.pid, url: match[1], stop });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${stderr}`));
    });
  });
}
