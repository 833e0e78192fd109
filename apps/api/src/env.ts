import { resolve } from "node:path";
import { z } from "zod";
import { DEFAULTS } from "./defaults.ts";

const int = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.int().min(min).max(max))
    .default(fallback);

const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"], { message: "must be true or false" })
    .transform((value) => value === "true" || value === "1")
    .default(fallback);

/** Seconds, fractions allowed (`0.5`). */
const seconds = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, "must be a number of seconds")
    .transform(Number)
    .pipe(z.number().min(min).max(max))
    .default(fallback);

const bytes = (fallback: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, "must be a whole number of bytes")
    .transform(Number)
    .pipe(z.int().min(1))
    .default(fallback);

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  AGNT_DATA_DIR: z.string().min(1).default(".agnt"),
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: int(0, 65_535, 8000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  AGNT_DB_POOL_SIZE: int(1, 1000, 10),
  AGNT_MAX_JSON_BODY_BYTES: int(1024, 64 * 1024 * 1024, DEFAULTS.maxJsonBodyBytes),
  AGNT_MAINTENANCE_INTERVAL_SECONDS: int(1, 86_400, DEFAULTS.maintenanceIntervalSeconds),
  AGNT_LEASE_SECONDS: seconds(0.1, 86_400, DEFAULTS.leaseSeconds),
  AGNT_KEY_CACHE_SECONDS: seconds(0, 3_600, DEFAULTS.keyCacheSeconds),
  AGNT_RESERVATION_SECONDS: seconds(0.1, 3_600, DEFAULTS.reservationSeconds),
  AGNT_SWEEP_INTERVAL_SECONDS: seconds(0.05, 3_600, DEFAULTS.sweepIntervalSeconds),
  // File storage: S3 when AGNT_S3_BUCKET is set, else a directory under AGNT_DATA_DIR.
  AGNT_S3_ENDPOINT: z.url().optional(),
  AGNT_S3_PUBLIC_ENDPOINT: z.url().optional(),
  AGNT_S3_BUCKET: z.string().min(3).max(63).optional(),
  AGNT_S3_REGION: z.string().min(1).default("us-east-1"),
  AGNT_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  AGNT_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AGNT_S3_FORCE_PATH_STYLE: bool(false),
  AGNT_S3_CREATE_BUCKET: bool(true),
  /** Base URL clients reach this API at (local download URLs). Default: http://HOST:PORT. */
  AGNT_PUBLIC_URL: z.url().optional(),
  /** HMAC secret of local download URLs. Default: generated once into AGNT_DATA_DIR. */
  AGNT_FILE_URL_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  AGNT_DOWNLOAD_URL_TTL_SECONDS: int(1, 7 * 24 * 3600, DEFAULTS.downloadUrlTtlSeconds),
  AGNT_RESULT_RETENTION_DAYS: z
    .string()
    .regex(/^\d+$/, "must be a whole number of days")
    .transform(Number)
    .pipe(z.int().min(1).max(36_500))
    .optional(),
  AGNT_MAX_UPLOAD_FILE_BYTES: bytes(DEFAULTS.maxUploadFileBytes),
  AGNT_MAX_UPLOAD_FILES: int(1, 10_000, DEFAULTS.maxUploadFiles),
  AGNT_MAX_UPLOAD_JOB_BYTES: bytes(DEFAULTS.maxUploadJobBytes),
});

export type Env = Omit<z.infer<typeof EnvSchema>, "AGNT_DATA_DIR"> & {
  /** Absolute path of the data directory. */
  AGNT_DATA_DIR: string;
};

/** Parses the environment once; throws with every problem listed. */
export function readEnv(source: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ""));
  const result = EnvSchema.safeParse(cleaned);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `  ${issue.path.join(".")}: ${issue.message}`,
    );
    throw new Error(`Invalid environment:\n${problems.join("\n")}`);
  }
  return { ...result.data, AGNT_DATA_DIR: resolve(cwd, result.data.AGNT_DATA_DIR) };
}

/** Production refuses the development defaults: it needs a real database server. */
export function checkProduction(env: Env): void {
  if (env.NODE_ENV !== "production") return;
  const problems: string[] = [];
  if (!env.DATABASE_URL) {
    problems.push("DATABASE_URL is required: the embedded database is for local use only.");
  }
  if (!env.AGNT_S3_BUCKET && !env.AGNT_FILE_URL_SECRET) {
    problems.push("AGNT_FILE_URL_SECRET is required with the local file store (or configure S3).");
  }
  const devCredentials = ["minioadmin", "test", "testsecret", "changeme", "change-me"];
  if (
    env.AGNT_S3_BUCKET &&
    (devCredentials.includes(env.AGNT_S3_ACCESS_KEY_ID ?? "") ||
      devCredentials.includes(env.AGNT_S3_SECRET_ACCESS_KEY ?? ""))
  ) {
    problems.push("AGNT_S3_ACCESS_KEY_ID / AGNT_S3_SECRET_ACCESS_KEY are development defaults.");
  }
  if (problems.length > 0) {
    throw new Error(`NODE_ENV=production refuses to start:\n  ${problems.join("\n  ")}`);
  }
}
