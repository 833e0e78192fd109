/** What every query function needs: one parameterised statement at a time. */
export interface Queryable {
  query<T = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<{ rows: T[]; rowCount: number }>;
}

/** A transaction: queries plus multi-statement scripts. */
export interface Tx extends Queryable {
  exec(sql: string): Promise<void>;
}

/** A database: a PostgreSQL pool or an in-process PGlite, behind the same interface. */
export interface Db extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}
