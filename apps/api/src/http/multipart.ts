import { PassThrough } from "node:stream";
import type { RouteDef } from "@agnt/contract";
import type { MultipartFile, MultipartValue } from "@fastify/multipart";
import type { FastifyRequest } from "fastify";
import {
  humanBytes,
  type IncomingFile,
  type UploadBody,
  type UploadLimits,
} from "../files/upload.ts";
import { multipartBoundary, PartCounter } from "./part-counter.ts";
import { AppError } from "./problem.ts";

type Part = MultipartFile | MultipartValue<unknown>;

/**
 * A multipart request read the way its route's contract describes it (`RouteDef.multipart`):
 * `body` and `field` parts first, making the route's JSON body, which `parseBody` checks;
 * then `files` parts. A body or field part may also arrive as a file part (`curl -F
 * 'job=@job.json'`, `FormData.append("job", blob)`): it is read as text, up to
 * `maxFieldBytes`. Parts the parser skipped are refused at the end instead of being lost.
 */
export function contractUpload<B>(
  request: FastifyRequest,
  def: RouteDef,
  limits: UploadLimits,
  parseBody: (raw: unknown) => B,
  signal: AbortSignal,
): UploadBody<B> {
  const spec = def.multipart ?? {};
  const parts = multipartParts(request, limits)[Symbol.asyncIterator]();
  let firstFile: MultipartFile | undefined;
  let bodyRead = false;
  const names = Object.keys(spec);
  const expected = `send ${names
    .filter((name) => spec[name]?.kind !== "files")
    .map((name) => `\`${name}\``)
    .join(" and ")}, then \`files\` parts`;

  const unexpected = (name: string) =>
    new AppError("MALFORMED_MULTIPART", {
      detail: `Unexpected part \`${name}\`: ${expected}.`,
    });

  return {
    signal,
    async body() {
      if (bodyRead) throw new Error("body() is read once");
      bodyRead = true;
      const seen = new Set<string>();
      const fields: Record<string, unknown> = {};
      let whole: unknown;
      for (let step = await parts.next(); !step.done; step = await parts.next()) {
        const part = step.value;
        const kind = spec[part.fieldname]?.kind;
        if (kind === undefined) throw unexpected(part.fieldname);
        if (kind === "files") {
          if (part.type !== "file") throw notAFile(part.fieldname);
          firstFile = part;
          break;
        }
        if (seen.has(part.fieldname)) {
          throw new AppError("MALFORMED_MULTIPART", {
            detail: `The \`${part.fieldname}\` part was sent twice.`,
          });
        }
        seen.add(part.fieldname);
        const value =
          part.type === "file" ? await readText(part, limits.maxFieldBytes) : part.value;
        if (kind === "body") whole = parseJsonPart(part.fieldname, value);
        else fields[part.fieldname] = fieldValue(value);
      }
      for (const [name, part] of Object.entries(spec)) {
        if (part.kind === "files" || !part.required || seen.has(name)) continue;
        throw new AppError("MALFORMED_MULTIPART", {
          detail: firstFile
            ? `The \`${name}\` part must come before the files.`
            : `The multipart body has no \`${name}\` part.`,
        });
      }
      const bodyPart = names.find((name) => spec[name]?.kind === "body");
      return parseBody(bodyPart ? whole : fields);
    },
    async *files() {
      if (!bodyRead) throw new Error("read body() before files()");
      if (firstFile) {
        const part = firstFile;
        firstFile = undefined;
        yield incoming(part);
      }
      for (let step = await parts.next(); !step.done; step = await parts.next()) {
        const part = step.value;
        const kind = spec[part.fieldname]?.kind;
        if (kind === undefined) throw unexpected(part.fieldname);
        if (kind !== "files") {
          throw new AppError("MALFORMED_MULTIPART", {
            detail: `The \`${part.fieldname}\` part must come before the files.`,
          });
        }
        if (part.type !== "file") throw notAFile(part.fieldname);
        yield incoming(part);
      }
    },
  };
}

const notAFile = (name: string) =>
  new AppError("MALFORMED_MULTIPART", {
    detail: `\`${name}\` parts are files: each needs a file name (its relative path).`,
  });

/** The file as services see it; the parser's errors arrive already translated. */
function incoming(part: MultipartFile): IncomingFile {
  const stream = new PassThrough();
  part.file.once("error", (error) => stream.destroy(asUploadError(error) as Error));
  part.file.pipe(stream);
  return { filename: part.filename, stream, truncated: () => part.file.truncated };
}

/** A value part sent as a file part: its text, refused past `max` bytes. */
async function readText(part: MultipartFile, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of part.file as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      throw new AppError("PAYLOAD_TOO_LARGE", {
        detail: `The \`${part.fieldname}\` part exceeds ${humanBytes(max)}.`,
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A `body` part: JSON text, or already parsed when sent as `Content-Type: application/json`. */
function parseJsonPart(name: string, value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch (cause) {
    throw new AppError("MALFORMED_JSON", {
      detail: `The \`${name}\` part is not valid JSON.`,
      cause,
    });
  }
}

/** A `field` part's text: a whole number becomes a number; anything else is left for the schema. */
function fieldValue(value: unknown): unknown {
  return typeof value === "string" && /^-?\d{1,15}$/.test(value.trim()) ? Number(value) : value;
}

/** The multipart parts of a request, with the parser's limits set one past ours so ours trip first. */
async function* multipartParts(
  request: FastifyRequest,
  limits: UploadLimits,
): AsyncGenerator<Part> {
  const parts = request.parts({
    preservePath: true,
    limits: {
      fileSize: limits.maxFileBytes + 1,
      files: limits.maxFiles + 20,
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
          detail: `The \`${part.fieldname}\` part exceeds ${humanBytes(limits.maxFieldBytes)}.`,
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
