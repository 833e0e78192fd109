import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Role } from "@agnt/contract";
import { ROLES } from "@agnt/contract";
import { createKey } from "./accounts/service.ts";
import { buildApp } from "./app.ts";
import { migrate } from "./db/migrate.ts";
import { embeddedDataPath, openDatabase } from "./db/open.ts";
import type { Db } from "./db/types.ts";
import { checkProduction, type Env, readEnv } from "./env.ts";
import { bootstrapLocal, isFreshDataDir, LOCAL_KEYS_FILE } from "./local/bootstrap.ts";
import { claimEmbeddedDatabase } from "./local/lock.ts";
import { seed } from "./seed/seed.ts";
import { openStore, type StoreConfig } from "./storage/open.ts";

const HELP = `agnt-server: the agnt marketplace API

Usage: agnt-server <command> [options]

Commands:
  start      Apply migrations, then serve the API on HOST:PORT (default 127.0.0.1:8000).
             With the embedded database, the first start in an empty AGNT_DATA_DIR also
             seeds the demo catalogue and writes one key per role to
             AGNT_DATA_DIR/local-keys.json.
  migrate    Apply pending migrations.
  seed       Write the demo catalogue (idempotent).
  keys create --role <buyer|provider|admin> --name <name> [--account-id <uuid>]
             Create an account and its API key (or, with --account-id, another key for
             an account). Prints {"key", "key_id", "account_id", "role"}. The key is shown
             once; only its hash is stored.
  help       Show this text.

migrate, seed and keys work on the database directly. With the embedded database (no
DATABASE_URL) only one process can open it: stop the server first.

Environment:
  DATABASE_URL       PostgreSQL server (postgres://…). Unset: embedded PGlite in AGNT_DATA_DIR.
  AGNT_DATA_DIR      Data directory of the embedded mode (default .agnt).
  HOST, PORT         Listen address (default 127.0.0.1, 8000).
  NODE_ENV           production refuses to start without DATABASE_URL and creates no local keys.
  LOG_LEVEL          fatal|error|warn|info|debug|trace|silent (default info).
  AGNT_DB_POOL_SIZE, AGNT_MAX_JSON_BODY_BYTES  (see .env.example)

Exit codes: 0 success, 1 failure, 2 usage error.`;

class UsageError extends Error {}

function fail(error: unknown): never {
  const usage = error instanceof UsageError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `${JSON.stringify({ error: { code: usage ? "USAGE" : "FAILED", message } })}\n`,
  );
  process.exit(usage ? 2 : 1);
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Opens the database for a one-off command, refusing while a server holds the embedded one. */
async function withDatabase<T>(
  env: Env,
  fn: (db: Db, applied: number[]) => Promise<T>,
): Promise<T> {
  if (!env.DATABASE_URL) claimEmbeddedDatabase(env.AGNT_DATA_DIR, false);
  const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.AGNT_DATA_DIR });
  try {
    const applied = await migrate(db);
    return await fn(db, applied);
  } finally {
    await db.close();
  }
}

async function start(env: Env): Promise<void> {
  checkProduction(env);
  const embedded = !env.DATABASE_URL;
  const release = embedded ? claimEmbeddedDatabase(env.AGNT_DATA_DIR, true) : () => undefined;
  const keysFile = join(env.AGNT_DATA_DIR, LOCAL_KEYS_FILE);
  const fresh =
    embedded && isFreshDataDir(embeddedDataPath(env.AGNT_DATA_DIR)) && !existsSync(keysFile);
  const db = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    dataDir: env.AGNT_DATA_DIR,
    poolSize: env.AGNT_DB_POOL_SIZE,
  });
  await migrate(db);
  if (fresh && env.NODE_ENV !== "production") await bootstrapLocal(db, env.AGNT_DATA_DIR);
  let listening = `http://${env.HOST === "0.0.0.0" || env.HOST === "::" ? "127.0.0.1" : env.HOST}:${env.PORT}`;
  const store = await openStore(storeConfig(env, () => env.AGNT_PUBLIC_URL ?? listening));
  const app = await buildApp({
    db,
    store,
    logLevel: env.LOG_LEVEL,
    maxJsonBodyBytes: env.AGNT_MAX_JSON_BODY_BYTES,
    uploads: {
      maxFileBytes: env.AGNT_MAX_UPLOAD_FILE_BYTES,
      maxFiles: env.AGNT_MAX_UPLOAD_FILES,
      maxTotalBytes: env.AGNT_MAX_UPLOAD_JOB_BYTES,
    },
    downloadUrlTtlSeconds: env.AGNT_DOWNLOAD_URL_TTL_SECONDS,
    retentionDays: env.AGNT_RESULT_RETENTION_DAYS,
    maintenanceIntervalMs: env.AGNT_MAINTENANCE_INTERVAL_SECONDS * 1000,
    leaseSeconds: env.AGNT_LEASE_SECONDS,
    reservationSeconds: env.AGNT_RESERVATION_SECONDS,
    keyCacheSeconds: env.AGNT_KEY_CACHE_SECONDS,
    sweepIntervalMs: env.AGNT_SWEEP_INTERVAL_SECONDS * 1000,
  });
  const address = await app.listen({ host: env.HOST, port: env.PORT });
  listening = address;
  const lines = [`agnt API listening on ${address} (reference: ${address}/docs)`];
  if (embedded) {
    lines.push(`embedded database in ${env.AGNT_DATA_DIR}`);
    if (existsSync(keysFile)) lines.push(`local API keys (buyer, provider, admin): ${keysFile}`);
  }
  process.stderr.write(`${lines.join("\n")}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, "shutting down");
    await app.close();
    await db.close();
    release();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}

/** The object store the environment asks for: S3 when a bucket is named, else a local directory. */
function storeConfig(env: Env, publicUrl: () => string): StoreConfig {
  return {
    dataDir: env.AGNT_DATA_DIR,
    publicUrl,
    secret: env.AGNT_FILE_URL_SECRET,
    s3: env.AGNT_S3_BUCKET
      ? {
          endpoint: env.AGNT_S3_ENDPOINT,
          publicEndpoint: env.AGNT_S3_PUBLIC_ENDPOINT,
          bucket: env.AGNT_S3_BUCKET,
          region: env.AGNT_S3_REGION,
          accessKeyId: env.AGNT_S3_ACCESS_KEY_ID,
          secretAccessKey: env.AGNT_S3_SECRET_ACCESS_KEY,
          forcePathStyle: env.AGNT_S3_FORCE_PATH_STYLE,
          createBucket: env.AGNT_S3_CREATE_BUCKET,
        }
      : undefined,
  };
}

async function keys(env: Env, args: string[]): Promise<void> {
  let parsed: {
    positionals: string[];
    values: { role?: string; name?: string; "account-id"?: string };
  };
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        role: { type: "string" },
        name: { type: "string" },
        "account-id": { type: "string" },
      },
    });
  } catch (error) {
    // Unknown or malformed options are usage errors.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { positionals, values } = parsed;
  if (positionals[0] !== "create" || positionals.length !== 1) {
    throw new UsageError(
      "usage: agnt-server keys create --role <role> --name <name> [--account-id <uuid>]",
    );
  }
  if (values.role !== undefined && !(ROLES as readonly string[]).includes(values.role)) {
    throw new UsageError(`--role must be one of ${ROLES.join(", ")}`);
  }
  if (!values.name?.trim()) throw new UsageError("--name is required");
  if (values.role === undefined && values["account-id"] === undefined) {
    throw new UsageError("--role is required (unless --account-id is given)");
  }
  const created = await withDatabase(env, (db) =>
    createKey(db, {
      name: values.name as string,
      ...(values.role ? { role: values.role as Role } : {}),
      ...(values["account-id"] ? { account_id: values["account-id"] } : {}),
    }),
  );
  print({
    key: created.key,
    key_id: created.key_id,
    account_id: created.account_id,
    role: created.role,
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const env = readEnv();
  switch (command) {
    case "start":
      if (rest.length)
        throw new UsageError("start takes no arguments; configure it with the environment");
      return start(env);
    case "migrate": {
      const applied = await withDatabase(env, async (_db, versions) => versions);
      return print({ applied });
    }
    case "seed": {
      const result = await withDatabase(env, (db) => seed(db));
      return print({
        provider_account_id: result.providerAccountId,
        agents: result.agentIds.length,
      });
    }
    case "keys":
      return keys(env, rest);
    default:
      throw new UsageError(`unknown command ${command}; see agnt-server help`);
  }
}

main(process.argv.slice(2)).catch(fail);
