import http from "node:http";

/** A response: its status and its parsed JSON body (undefined when empty). */
export interface Reply {
  status: number;
  body: unknown;
}

/** A small JSON-over-HTTP client on keep-alive connections that counts its requests. */
export class HttpClient {
  requests = 0;
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
  }

  /** Sends one request; rejects on network errors (an AbortError when `signal` aborts). */
  request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<Reply> {
    this.requests += 1;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.host,
          port: this.port,
          method,
          path,
          signal,
          headers: payload
            ? {
                ...headers,
                "content-type": "application/json",
                "content-length": Buffer.byteLength(payload),
              }
            : headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            try {
              resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
            } catch (error) {
              reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`, { cause: error }));
            }
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Closes every connection. */
  close(): void {
    this.agent.destroy();
  }
}
