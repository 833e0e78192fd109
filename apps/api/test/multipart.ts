/** One part of a hand-built multipart/form-data body. */
export interface Part {
  name: string;
  value: string | Buffer;
  /** Sent as `filename*=UTF-8''…` (RFC 5987), so any name arrives exactly. */
  filename?: string;
  contentType?: string;
}

/** Builds a multipart/form-data body and its content-type header by hand. */
export function multipart(parts: Part[]): { body: Buffer; headers: Record<string, string> } {
  const boundary = `agnt-test-${Math.random().toString(36).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let disposition = `form-data; name="${part.name}"`;
    if (part.filename !== undefined) {
      disposition += `; filename*=UTF-8''${encodeURIComponent(part.filename)}`;
    }
    const headers = [`Content-Disposition: ${disposition}`];
    if (part.filename !== undefined)
      headers.push(`Content-Type: ${part.contentType ?? "application/octet-stream"}`);
    chunks.push(
      Buffer.from(`--${boundary}\r\n${headers.join("\r\n")}\r\n\r\n`),
      Buffer.from(part.value),
      Buffer.from("\r\n"),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    body: Buffer.concat(chunks),
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
  };
}
