/** What modules outside the HTTP layer log through (a pino logger, such as Fastify's, fits). */
export interface Log {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** A log that drops everything (tests, one-off commands). */
export const silentLog: Log = { info() {}, warn() {}, error() {} };
