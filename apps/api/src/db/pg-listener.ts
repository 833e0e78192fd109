import pg from "pg";
import type { ListenHandlers } from "./types.ts";

export interface PgListenerOptions {
  connectionString: string;
  channels: readonly string[];
  handlers: ListenHandlers;
  /** Delay before the first reconnection attempt (default 100 ms); doubles with each failure. */
  minDelayMs?: number;
  /** Longest delay between reconnection attempts (default 5 s). */
  maxDelayMs?: number;
  /** How long one connection attempt may take (default 5 s). */
  connectTimeoutMs?: number;
}

/** How the listening connection shows in `pg_stat_activity.application_name`. */
export const LISTENER_APPLICATION_NAME = "agnt listener";

/**
 * `LISTEN`s on some channels through one dedicated connection (never one of the pool's: it would
 * hold a pool slot forever, and the pool would hand it out with its LISTEN still active).
 *
 * When the connection fails or closes (`pg_terminate_backend`, a database restart, a network
 * error), `onError` is told and a new connection is attempted after a capped, jittered
 * exponential backoff (100 ms, 200 ms, … 5 s), for as long as it takes. Once it listens again,
 * `onReconnect` is called: notifications sent in between are lost. Idle, it sends nothing to
 * the server; TCP keepalive notices a dead peer.
 *
 * Resolves after the first attempt, successful or not; the returned function stops listening
 * and closes the connection.
 */
export async function listenPostgres(options: PgListenerOptions): Promise<() => Promise<void>> {
  const { channels, handlers } = options;
  const listened = new Set(channels);
  const named = channels.join(", ");
  const minDelayMs = options.minDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  let stopped = false;
  let current: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  // A throwing handler must not take the process down from inside pg's socket events.
  const report = (error: unknown) => {
    try {
      handlers.onError?.(error instanceof Error ? error : new Error(String(error)));
    } catch {}
  };
  const safely = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      report(error);
    }
  };

  const retry = () => {
    if (stopped || timer) return;
    const delay = Math.min(maxDelayMs, minDelayMs * 2 ** failures);
    failures += 1;
    // Jitter spreads the reconnections of many API processes after a database restart.
    timer = setTimeout(
      () => {
        timer = undefined;
        attempt = connect(true).catch((error) => {
          report(error);
          retry();
        });
      },
      delay * (0.5 + Math.random() / 2),
    );
    timer.unref();
  };

  const connect = async (reconnecting: boolean): Promise<void> => {
    const client = new pg.Client({
      connectionString: options.connectionString,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      // Idle, the connection carries no queries: TCP keepalive probes notice a vanished peer.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: LISTENER_APPLICATION_NAME,
    });
    current = client;
    let lost = false;
    const lose = (error: Error) => {
      if (lost) return;
      lost = true;
      if (current === client) current = undefined;
      client.removeAllListeners("notification");
      client.end().catch(() => undefined);
      if (stopped) return;
      report(error);
      retry();
    };
    // Without an error listener a lost connection would crash the process.
    client.on("error", lose);
    client.on("end", () => lose(new Error(`the connection listening on ${named} closed`)));
    client.on("notification", (message) => {
      if (listened.has(message.channel)) {
        safely(() => handlers.onNotify(message.payload ?? "", message.channel));
      }
    });
    try {
      await client.connect();
      for (const channel of channels) {
        await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
      }
    } catch (error) {
      lose(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (lost) return;
    if (stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    failures = 0;
    const pid = (client as unknown as { processID: number | null }).processID;
    if (pid !== null) safely(() => handlers.onListening?.(pid));
    if (reconnecting) safely(() => handlers.onReconnect?.());
  };

  let attempt = connect(false);
  await attempt;
  return async () => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    const client = current;
    current = undefined;
    // Ending a client that is still connecting aborts the attempt.
    await Promise.all([client?.end().catch(() => undefined), attempt]);
  };
}
