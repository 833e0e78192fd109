import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import type { MultipartFile, MultipartValue } from "@fastify/multipart";
import type { FastifyReply, FastifyRequest } from "fastify";
import mime from "mime-types";
import { AppError } from "../http/problem.ts";
import type { ObjectStore } from "../storage/types.ts";
import { checkFileName } from "./names.ts";
import { multipartBoundary, PartCounter } from "./part-counter.ts";

export interface UploadLimits {
  maxFileBytes: number;
  maxFiles: number;
  maxTotalBytes: number;
  /** Largest non-file field (the `job` JSON part), in bytes. */
  maxFieldBytes: number;
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
const human = (bytes: number) =>
  bytes >= MiB ? `${(bytes / MiB).toFixed(bytes % MiB ? 1 : 0)} MiB` : `${bytes} bytes`;

/** The multipart parts of a request, with busboy's limits set one past ours so that ours trip first. */
export async function* multipartParts(
  request: FastifyRequest,
  limits: UploadLimits,
): AsyncGenerator<MultipartFile | MultipartValue<unknown>> {
  const parts = request.parts({
    preservePath: true,
    limits: {
      fileSize: limits.maxFileBytes + 1,
      files: limits.maxFiles + 1,
      fields: 20,
      fieldSize: limits.maxFieldBytes,
      parts: limits.maxFiles + 20,
    },
  });
  const boundary = multipartBoundary(request.headers["content-type"]);
  const counter = boundary ? new PartCounter(boundary) : undefined;
  const iterator = parts[Symbol.asyncIterator]();
  let handedOut = 0;
  try {
    // The first next() starts the parser, which pipes the body synchronously: watch it now,
    // before any byte can flow.
    let next = iterator.next();
    if (counter) counter.watch(request.raw);
    for (let step = await next; !step.done; step = await next) {
      const part = step.value;
      if (part.type === "field" && part.valueTruncated) {
        throw new AppError("PAYLOAD_TOO_LARGE", {
          detail: `The \`${part.fieldname}\` part exceeds ${human(limits.maxFieldBytes)}.`,
        });
      }
      handedOut += 1;
      yield part;
      next = iterator.next();
    }
  } catch (error) {
    throw asUploadError(error);
  }
  if (counter && counter.parts > handedOut) {
    throw new AppError("FILE_NAME_INVALID", {
      detail: `${counter.parts - handedOut} part(s) could not be read: a line break in a name or file name (or a part without a form-data Content-Disposition). Nothing was stored.`,
    });
  }
}

/** Maps what the multipart parser throws to problem codes; our own errors pass through. */
function asUploadError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const code = (error as { code?: string }).code;
  if (code === "FST_FILES_LIMIT")
    return new AppError("TOO_MANY_FILES", { detail: "Too many files.", cause: error });
  if (code === "FST_REQ_FILE_TOO_LARGE") {
    return new AppError("FILE_TOO_LARGE", {
      detail: "A file exceeds the size limit.",
      cause: error,
    });
  }
  if (code === "FST_INVALID_JSON_FIELD_ERROR") {
    return new AppError("MALFORMED_JSON", {
      detail: "A JSON part of the multipart body is not valid JSON.",
      cause: error,
    });
  }
  if (code?.startsWith("FST_")) return error;
  return new AppError("MALFORMED_MULTIPART", {
    detail: `The multipart body could not be read: ${(error as Error).message ?? String(error)}.`,
    cause: error,
  });
}

/**
 * Receives the file parts of one request into the store under `prefix`, validating names and
 * enforcing limits while streaming; size and SHA-256 are measured on the way. Nothing is held
 * whole in memory. On failure `discard()` removes everything this session stored, so a
 * refused or interrupted request leaves nothing behind.
 */
export class UploadSession {
  readonly files: StoredFile[] = [];
  readonly #store: ObjectStore;
  readonly #prefix: string;
  readonly #limits: UploadLimits;
  readonly #signal: AbortSignal;
  #totalBytes = 0;

  constructor(options: {
    store: ObjectStore;
    prefix: string;
    limits: UploadLimits;
    signal: AbortSignal;
  }) {
    this.#store = options.store;
    this.#prefix = options.prefix;
    this.#limits = options.limits;
    this.#signal = options.signal;
  }

  /** Streams one file part (named `files`) into the store. */
  async receive(part: MultipartFile): Promise<void> {
    if (part.fieldname !== "files") {
      throw new AppError("MALFORMED_MULTIPART", {
        detail: `File parts are named \`files\`, not \`${part.fieldname}\`.`,
      });
    }
    const name = checkFileName(part.filename);
    if (!name.ok) {
      throw new AppError("FILE_NAME_INVALID", {
        detail: `File name ${JSON.stringify(part.filename)} ${name.reason}.`,
      });
    }
    if (this.files.some((file) => file.path === name.path)) {
      throw new AppError("FILE_PATH_DUPLICATE", {
        detail: `Two files are named ${JSON.stringify(name.path)}.`,
      });
    }
    if (this.files.length >= this.#limits.maxFiles) {
      throw new AppError("TOO_MANY_FILES", {
        detail: `At most ${this.#limits.maxFiles} files per request.`,
      });
    }
    const limits = this.#limits;
    const hash = createHash("sha256");
    let size = 0;
    const session = this;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        session.#totalBytes += chunk.length;
        if (size > limits.maxFileBytes) {
          done(
            new AppError("FILE_TOO_LARGE", {
              detail: `${JSON.stringify(name.path)} exceeds the ${human(limits.maxFileBytes)} limit per file.`,
            }),
          );
        } else if (session.#totalBytes > limits.maxTotalBytes) {
          done(
            new AppError("UPLOAD_TOO_LARGE", {
              detail: `The files exceed the ${human(limits.maxTotalBytes)} limit per job.`,
            }),
          );
        } else {
          hash.update(chunk);
          done(null, chunk);
        }
      },
    });
    // The meter may fail (a limit) before the store attaches to it; the store still sees the
    // error through the stream's state, but it must not surface as an uncaught exception.
    meter.on("error", () => undefined);
    let sourceError: unknown;
    part.file.once("error", (error) => {
      sourceError = error;
      meter.destroy(error);
    });
    part.file.pipe(meter);
    const mimeType = mime.lookup(name.path) || "application/octet-stream";
    const key = this.#prefix + name.path;
    try {
      await this.#store.put(key, meter, { contentType: mimeType, signal: this.#signal });
    } catch (error) {
      part.file.unpipe(meter);
      part.file.resume();
      throw this.#explain(error, sourceError);
    }
    if (part.file.truncated) {
      // busboy stopped at its own limit (one byte past ours): never keep a truncated file.
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

  #explain(error: unknown, sourceError: unknown): unknown {
    if (error instanceof AppError) return error;
    if (sourceError !== undefined || this.#signal.aborted)
      return asUploadError(sourceError ?? error);
    return new AppError("STORAGE_UNAVAILABLE", {
      detail: "The file store did not take the file.",
      cause: error,
    });
  }

  /**
   * Gives up on a failed request: deletes what it stored (a failure to do so is logged, not
   * thrown over the request's own error) and closes the connection rather than read the rest.
   */
  async abandon(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      await this.discard();
    } catch (error) {
      request.log.error({ err: error }, "could not delete the files of a failed upload");
    }
    reply.header("connection", "close");
  }

  /** Deletes everything this session stored. */
  async discard(): Promise<void> {
    const keys = this.files.map((file) => file.storageKey);
    this.files.length = 0;
    if (keys.length > 0) await this.#store.delete(keys);
  }
}
