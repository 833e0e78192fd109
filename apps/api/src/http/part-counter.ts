import type { IncomingMessage } from "node:http";

/**
 * Counts the parts of a multipart body by watching the raw bytes go by (it does not consume
 * them). The parser silently skips parts it will not hand out (a line break in a name or file
 * name, a part without a form-data Content-Disposition); comparing its count with this one
 * turns such a silent loss into an error.
 */
export class PartCounter {
  readonly #delimiter: Buffer;
  #tail = Buffer.alloc(0);
  #delimiters = 0;

  constructor(boundary: string) {
    this.#delimiter = Buffer.from(`--${boundary}`);
  }

  /** Starts watching a request whose body is already being piped to the parser. */
  watch(raw: IncomingMessage): void {
    raw.on("data", (chunk: Buffer) => this.feed(chunk));
  }

  feed(chunk: Buffer): void {
    const reach = this.#delimiter.length - 1;
    // Occurrences that straddle the previous chunk's end: search only the seam, not a copy of
    // the whole chunk. The tail is one byte shorter than the delimiter, so none is counted twice.
    if (this.#tail.length > 0) {
      this.#count(Buffer.concat([this.#tail, chunk.subarray(0, reach)]), 0);
    }
    this.#count(chunk, 0);
    const keep = Math.min(reach, chunk.length);
    this.#tail = Buffer.concat([this.#tail, chunk.subarray(chunk.length - keep)]).subarray(-reach);
  }

  #count(buffer: Buffer, from: number): void {
    for (
      let at = buffer.indexOf(this.#delimiter, from);
      at !== -1;
      at = buffer.indexOf(this.#delimiter, at + 1)
    ) {
      this.#delimiters += 1;
    }
  }

  /** Parts seen so far (the closing delimiter is not a part). */
  get parts(): number {
    return Math.max(0, this.#delimiters - 1);
  }
}

/** The boundary parameter of a multipart content type, if any. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  return match ? (match[1] ?? match[2]) : undefined;
}
