import { describe, expect, it } from "vitest";
import { checkProduction, readEnv } from "./env.ts";

const production = { NODE_ENV: "production", DATABASE_URL: "postgres://db/agnt" };

describe("environment", () => {
  it("applies defaults and resolves the data directory", () => {
    const env = readEnv({}, "/srv/agnt");
    expect(env).toMatchObject({
      PORT: 8000,
      HOST: "127.0.0.1",
      AGNT_DATA_DIR: "/srv/agnt/.agnt",
      AGNT_DOWNLOAD_URL_TTL_SECONDS: 300,
      AGNT_MAX_UPLOAD_FILE_BYTES: 1024 ** 3,
      AGNT_MAX_UPLOAD_FILES: 100,
      AGNT_MAX_UPLOAD_JOB_BYTES: 5 * 1024 ** 3,
      AGNT_S3_FORCE_PATH_STYLE: false,
      AGNT_S3_CREATE_BUCKET: true,
      AGNT_LEASE_SECONDS: 60,
      AGNT_SWEEP_INTERVAL_SECONDS: 15,
    });
    expect(
      readEnv({ AGNT_SWEEP_INTERVAL_SECONDS: "0.25", AGNT_LEASE_SECONDS: "1.5" }),
    ).toMatchObject({
      AGNT_SWEEP_INTERVAL_SECONDS: 0.25,
      AGNT_LEASE_SECONDS: 1.5,
    });
    expect(env.AGNT_RESULT_RETENTION_DAYS).toBeUndefined();
  });

  it("lists every problem at once", () => {
    const bad = { PORT: "eighty", AGNT_MAX_UPLOAD_FILES: "0", AGNT_S3_FORCE_PATH_STYLE: "yes" };
    expect(() => readEnv(bad)).toThrow(/^Invalid environment:/);
    for (const name of Object.keys(bad))
      expect(() => readEnv(bad)).toThrow(new RegExp(`\\n  ${name}: `));
  });

  it("refuses development defaults in production", () => {
    expect(() => checkProduction(readEnv({ NODE_ENV: "production" }))).toThrow(/DATABASE_URL/);
    expect(() => checkProduction(readEnv(production))).toThrow(/AGNT_FILE_URL_SECRET/);
    expect(() =>
      checkProduction(
        readEnv({
          ...production,
          AGNT_S3_BUCKET: "files",
          AGNT_S3_ACCESS_KEY_ID: "minioadmin",
          AGNT_S3_SECRET_ACCESS_KEY: "minioadmin",
        }),
      ),
    ).toThrow(/development defaults/);
    expect(() =>
      checkProduction(readEnv({ ...production, AGNT_FILE_URL_SECRET: "x".repeat(40) })),
    ).not.toThrow();
    expect(() =>
      checkProduction(
        readEnv({
          ...production,
          AGNT_S3_BUCKET: "files",
          AGNT_S3_ACCESS_KEY_ID: "AKIA123",
          AGNT_S3_SECRET_ACCESS_KEY: "s3cr3t-value",
        }),
      ),
    ).not.toThrow();
  });
});
