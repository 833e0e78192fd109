import { createHash } from "node:crypto";
import { type Readable, Transform } from "node:stream";
import { AppError } from "../http/problem.ts";
import type { Log } from "../log.ts";
import type { ObjectStore } from "../storage/types.ts";
import { mediaType } from "./mime.ts";
import { checkFileName } from "./names.ts";

export interface UploadLimits {
  maxFileBytes: number;
  maxFiles: number;
  maxTotalBytes: number;
  /** Largest non-file part (the `job` JSON part), in bytes. */
  maxFieldBytes: number;
}

/** A file part of an upload as it streams in. */
export interface IncomingFile {
  /** The part's file name: the file's relative path as the client sent it. */
  filename: string;
  stream: Readable;
  /** True when the parser cut the file at its own size limit. */
  truncated(): boolean;
}

/**
 * A multipart request as a service reads it: the JSON body its body or field parts make
 * (checked by the contract), then its files. Framework-free: the HTTP layer implements it.
 */
export interface UploadBody<B> {
  /** Reads the parts before the first file; returns the body they make. Call once, first. */
  body(): Promise<B>;
  /** The file parts, in order; read each one's stream before asking for the next. */
  files(): AsyncIterable<IncomingFile>;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

/** A file that reached the store, with what was measured while it streamed. */
export interface StoredFile {
  path: string;
  sizeBytes: number;
  sha256: string;
  mimeType: string;
  storageKey: string;
}

const MiB = 1024 * 1024;
/** `5 MiB`, `1.5 MiB` or `300 bytes`. */
export const humanBytes = (bytes: number) =>
  bytes >= MiB ? `${(bytes / MiB).toFixed(bytes % MiB ? 1 : 0)} MiB` : `${bytes} bytes`;

/**
 * Receives the files of one request into the store under `prefix`, validating names and
 * enforcing limits while streaming; size and SHA-256 are measured on the way. Nothing is held
 * whole in memory. `discard()` removes everything this session stored, so a refused or
 * interrupted request leaves nothing behind.
 */
export class UploadSession {
  readonly files: StoredFile[] = [];
  readonly #store: ObjectStore;
  readonly #prefix: string;
  readonly #limits: UploadLimits;
  readonly #signal: AbortSignal;
  readonly #log: Log;
  #totalBytes = 0;

  constructor(options: {
    store: ObjectStore;
    prefix: string;
    limits: UploadLimits;
    signal: AbortSignal;
    log: Log;
  }) {
    this.#store = options.store;
    this.#prefix = options.prefix;
    this.#limits = options.limits;
    this.#signal = options.signal;
    this.#log = options.log;
  }

  /** Streams one file into the store. */
  async receive(file: IncomingFile): Promise<void> {
    const name = checkFileName(file.filename);
    if (!name.ok) {
      throw new AppError("FILE_NAME_INVALID", {
        detail: `File name ${JSON.stringify(file.filename)} ${name.reason}.`,
      });
    }
    if (this.files.some((stored) => stored.path === name.path)) {
      throw new AppError("FILE_PATH_DUPLICATE", {
        detail: `Two files are named ${JSON.stringify(name.path)}.`,
      });
    }
    if (this.files.length >= this.#limits.maxFiles) {
      throw new AppError("TOO_MANY_FILES", {
        detail: `At most ${this.#limits.maxFiles} files per request.`,
      });
    }
    const hash = createHash("sha256");
    let size = 0;
    const meter = this.#meter(name.path, (chunk) => {
      size += chunk.length;
      hash.update(chunk);
      return size;
    });
    let sourceError: unknown;
    file.stream.once("error", (error) => {
      sourceError = error;
      meter.destroy(error);
    });
    file.stream.pipe(meter);
    const mimeType = mediaType(name.path);
    const key = this.#prefix + name.path;
    try {
      await this.#store.put(key, meter, { contentType: mimeType, signal: this.#signal });
    } catch (error) {
      file.stream.unpipe(meter);
      file.stream.resume();
      throw this.#explain(error, sourceError);
    }
    if (file.truncated()) {
      // The parser stopped at its own limit (one byte past ours): never keep a truncated file.
      await this.#store.delete([key]);
      throw new AppError("FILE_TOO_LARGE", {
        detail: `${JSON.stringify(name.path)} exceeds the size limit.`,
      });
    }
    this.files.push({
      path: name.path,
      sizeBytes: size,
      sha256: hash.digest("hex"),
      mimeType,
      storageKey: key,
    });
  }

  /** Counts bytes through `measure` and fails the stream at the per-file or per-job limit. */
  #meter(path: string, measure: (chunk: Buffer) => number): Transform {
    const limits = this.#limits;
    const session = this;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        session.#totalBytes += chunk.length;
        if (measure(chunk) > limits.maxFileBytes) {
          done(
            new AppError("FILE_TOO_LARGE", {
              detail: `${JSON.stringify(path)} exceeds the ${humanBytes(limits.maxFileBytes)} limit per file.`,
            }),
          );
        } else if (session.#totalBytes > limits.maxTotalBytes) {
          done(
            new AppError("UPLOAD_TOO_LARGE", {
              detail: `The files exceed the ${humanBytes(limits.maxTotalBytes)} limit per job.`,
            }),
          );
        } else {
          done(null, chunk);
        }
      },
    });
    // The meter may fail (a limit) before the store attaches to it; the store still sees the
    // error through the stream's state, but it must not surface as an uncaught exception.
    meter.on("error", () => undefined);
    return meter;
  }

  #explain(error: unknown, sourceError: unknown): unknown {
    if (error instanceof AppError) return error;
    if (sourceError instanceof AppError) return sourceError;
    if (sourceError !== undefined || this.#signal.aborted) {
      return new AppError("MALFORMED_MULTIPART", {
        detail: "The upload ended before the file was complete.",
        cause: sourceError ?? error,
      });
    }
    return new AppError("STORAGE_UNAVAILABLE", {
      detail: "The file store did not take the file.",
      cause: error,
    });
  }

  /** Deletes everything this session stored. */
  async discard(): Promise<void> {
    const keys = this.files.map((file) => file.storageKey);
    this.files.length = 0;
    if (keys.length > 0) await this.#store.delete(keys);
  }

  /**
   * Gives up after a failure: deletes what was stored; a failure to do so is logged, never
   * thrown over the request's own error.
   */
  async abandon(): Promise<void> {
    try {
      await this.discard();
    } catch (error) {
      this.#log.error({ err: error }, "could not delete the files of a failed upload");
    }
  }
}
