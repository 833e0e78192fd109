/** Defaults of every tunable setting, in one place: `env.ts` and `buildApp` both read them. */
export const DEFAULTS = {
  /** Length of an executor's lease on a job it holds. */
  leaseSeconds: 60,
  /** How long pending jobs handed to an executor's poll stay reserved for it. */
  reservationSeconds: 30,
  /** How often each replica sweeps lapsed leases and deadlines at most. */
  sweepIntervalSeconds: 15,
  /** Largest JSON body (and JSON part of a multipart body). */
  maxJsonBodyBytes: 1024 * 1024,
  maxUploadFileBytes: 1024 ** 3,
  maxUploadFiles: 100,
  maxUploadJobBytes: 5 * 1024 ** 3,
  /**
   * How long an API process trusts a key it looked up before reading it again. Revocations
   * are notified to every process at once; this only bounds how long a missed one could last.
   */
  keyCacheSeconds: 60,
  /** Lifetime of a download URL. */
  downloadUrlTtlSeconds: 300,
  /** How often housekeeping (idempotency keys, retention) runs. */
  maintenanceIntervalSeconds: 600,
} as const;
