import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openPglite } from "./pglite.ts";
import { openPostgres } from "./postgres.ts";
import type { Db } from "./types.ts";

export interface OpenDatabaseOptions {
  /** A PostgreSQL server; without it the embedded PGlite database is used. */
  databaseUrl?: string | undefined;
  /** Where the embedded database keeps its files (`<dataDir>/pgdata`). */
  dataDir: string;
  poolSize?: number;
  onPoolError?: (error: Error) => void;
}

/** Opens the configured database: the server when a URL is given, PGlite under dataDir otherwise. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Db> {
  if (options.databaseUrl) {
    return openPostgres({
      connectionString: options.databaseUrl,
      ...(options.poolSize ? { max: options.poolSize } : {}),
      ...(options.onPoolError ? { onError: options.onPoolError } : {}),
    });
  }
  const dir = embeddedDataPath(options.dataDir);
  mkdirSync(dir, { recursive: true });
  return openPglite({ dataDir: dir });
}

/** Where PGlite keeps its files inside the data directory. */
export function embeddedDataPath(dataDir: string): string {
  return join(dataDir, "pgdata");
}
