import pino from "pino";

/** What modules outside the HTTP layer log through (a pino logger, such as Fastify's, fits). */
export interface Log {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** A log that drops everything (tests, one-off commands). */
export const silentLog: Log = { info() {}, warn() {}, error() {} };

/** A log destination that writes in chunks (`bufferedDestination`). */
export interface BufferedDestination {
  write(line: string): void;
  /** Writes what is buffered, synchronously, and stops the timer. */
  close(): void;
}

/**
 * Where the server's log lines go: `dest` (a file descriptor or path; stdout by default),
 * written in chunks of at least 4 KiB instead of one write per line (per-request lines were a
 * measurable share of a request's cost), and at least every `flushMs` so that a quiet
 * server's lines still show promptly. What is buffered is written when the process exits;
 * a crash of the machine itself can lose the last second.
 */
export function bufferedDestination(
  options: { dest?: number | string; flushMs?: number } = {},
): BufferedDestination {
  const stream = pino.destination({ dest: options.dest ?? 1, minLength: 4096, sync: false });
  let unwritten = false;
  const timer = setInterval(() => {
    if (!unwritten) return;
    unwritten = false;
    try {
      stream.flush();
    } catch {
      // Still opening its file: the next tick writes it.
      unwritten = true;
    }
  }, options.flushMs ?? 1000);
  timer.unref();
  return {
    write: (line) => {
      unwritten = true;
      stream.write(line);
    },
    close: () => {
      clearInterval(timer);
      try {
        stream.flushSync();
      } catch {
        // Never opened (its file could not be): nothing was written, nothing can be.
      }
    },
  };
}
