export interface QueryOptions {
  /**
   * Keep the statement prepared on each connection, so that it is parsed and planned once
   * (PostgreSQL then reuses a generic plan). For hot statements whose best plan does not
   * depend on the parameters' values; never for searches. PGlite ignores it.
   */
  prepare?: boolean;
}

/** What every query function needs: one parameterised statement at a time. */
export interface Queryable {
  query<T = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<{ rows: T[]; rowCount: number }>;
}

/** A transaction: queries plus multi-statement scripts. */
export interface Tx extends Queryable {
  exec(sql: string): Promise<void>;
}

/** What a `listen` subscription is told. */
export interface ListenHandlers {
  /**
   * A notification with its payload (`''` when none) and channel, after its transaction
   * committed.
   */
  onNotify(payload: string, channel: string): void;
  /**
   * The subscription was lost and is back: notifications sent in between are gone, so
   * whatever depends on them should look again. Not called for the first connection.
   */
  onReconnect?(): void;
  /** The subscription was lost (it reconnects by itself), or a reconnection attempt failed. */
  onError?(error: Error): void;
  /**
   * It listens (first, and after each reconnection), through the session of this backend pid:
   * the process's name in `change_listeners` (events/listeners.ts).
   */
  onListening?(backendPid: number): void;
}

/** A database: a PostgreSQL pool or an in-process PGlite, behind the same interface. */
export interface Db extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * `LISTEN`s on one or more channels (plain lower-case identifiers) until the returned
   * function is called. PostgreSQL: one dedicated connection per call, outside the pool, re-established
   * with backoff whenever it is lost (`onError`, then `onReconnect` once it listens again).
   * Resolves after the first attempt, whether or not it succeeded: it never rejects for an
   * unreachable database, it keeps trying. PGlite: the instance's own notifications.
   */
  listen(
    channels: string | readonly string[],
    handlers: ListenHandlers,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
