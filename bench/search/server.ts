import { runCommand, type ServerProcess, startServer as startAgnt } from "../common/agnt-server.ts";

/** Where `agnt-server` finds its database: a server URL, or the embedded one in a data dir. */
export interface ServerEnv {
  databaseUrl?: string | undefined;
  dataDir: string;
}

export type RunningServer = ServerProcess;

function serverEnv(target: ServerEnv): Record<string, string> {
  return {
    AGNT_DATA_DIR: target.dataDir,
    LOG_LEVEL: "warn",
    ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
  };
}

/** Applies the API's migrations with `agnt-server migrate`. */
export async function migrateWithServer(target: ServerEnv): Promise<void> {
  runCommand(["migrate"], serverEnv(target));
}

/** Creates a buyer account with `agnt-server keys create`; returns its key. */
export async function createBuyerKey(target: ServerEnv): Promise<string> {
  const created = runCommand(
    ["keys", "create", "--role", "buyer", "--name", "bench"],
    serverEnv(target),
  );
  return String(created.key);
}

/** Starts `agnt-server start` on a free port and waits for its `listening on` line. */
export function startServer(target: ServerEnv): Promise<RunningServer> {
  return startAgnt({ ...serverEnv(target), HOST: "127.0.0.1", PORT: "0" }, []);
}
