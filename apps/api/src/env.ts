import { resolve } from "node:path";
import { z } from "zod";

const int = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.int().min(min).max(max))
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
  AGNT_MAX_JSON_BODY_BYTES: int(1024, 64 * 1024 * 1024, 1024 * 1024),
  AGNT_LONG_POLL_RECHECK_MS: int(50, 60_000, 1000),
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
  if (env.NODE_ENV === "production" && !env.DATABASE_URL) {
    throw new Error(
      "NODE_ENV=production needs DATABASE_URL: the embedded database is for local use only.",
    );
  }
}
