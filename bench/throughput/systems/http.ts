import { Pool } from "undici";

/** A response: its status and its parsed JSON body (undefined when empty). */
export interface Reply {
  status: number;
  body: unknown;
}

/**
 * A small JSON-over-HTTP client that counts its requests: undici (the client behind Node's
 * `fetch`) on keep-alive connections, without `fetch`'s WHATWG layers, so that the client's
 * own cost stays small next to the server's.
 */
export class HttpClient {
  requests = 0;
  private readonly pool: Pool;

  constructor(baseUrl: string) {
    // Long-polls hold a connection each: no cap, and no timeout shorter than a poll's wait.
    this.pool = new Pool(new URL(baseUrl).origin, {
      connections: null,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** Sends one request; rejects on network errors (an AbortError when `signal` aborts). */
  async request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<Reply> {
    this.requests += 1;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const response = await this.pool.request({
      method: method as "GET",
      path,
      headers: payload ? { ...headers, "content-type": "application/json" } : headers,
      body: payload,
      signal,
    });
    const text = await response.body.text();
    try {
      return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
    } catch (error) {
      throw new Error(`${method} ${path}: ${response.statusCode} ${text}`, { cause: error });
    }
  }

  /** Closes every connection. */
  close(): void {
    void this.pool.destroy();
  }
}
