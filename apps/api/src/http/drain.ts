import type { IncomingMessage } from "node:http";
import { Socket } from "node:net";
import type { FastifyInstance } from "fastify";

/** How much of a refused request's unread body is read and discarded before closing. */
export interface DrainLimits {
  /** Bytes discarded at most; past them the connection is closed (default 16 MiB). */
  maxBytes: number;
  /** Time spent discarding at most, in ms (default 10 s). */
  maxMs: number;
}

export const DEFAULT_DRAIN: DrainLimits = { maxBytes: 16 * 1024 * 1024, maxMs: 10_000 };

/** After the drain gave up: how long the half-closed connection still discards before closing. */
const LINGER_MS = 2_000;

const draining = new WeakSet<IncomingMessage>();

/**
 * Lets a client read an answer sent before its request body was read (a refused key, an
 * unknown agent, a limit, a stale attempt…). Closing a socket with unread data makes the
 * kernel reset the connection, and the client then sees "connection reset" instead of the
 * answer. So the rest of the body is read and discarded, as nginx does, and the connection
 * stays usable. Past `maxBytes` or `maxMs`, or when the answer closes the connection anyway
 * (Fastify closes after a body it could not parse), it is closed the lingering way: the
 * answer is finished, the write side is shut (the client sees the end of the response), and
 * reading goes on briefly before the socket is destroyed.
 */
export function installBodyDrain(app: FastifyInstance, limits: DrainLimits = DEFAULT_DRAIN): void {
  app.addHook("onSend", async (request, reply, payload) => {
    const raw = request.raw;
    // Injected requests (tests) have no real connection to keep or close.
    if (raw.complete || raw.destroyed || !(raw.socket instanceof Socket)) return payload;
    drain(raw, limits);
    if (String(reply.getHeader("connection")).toLowerCase() === "close") {
      // Node closes such a connection as soon as the answer is out: make that a lingering close.
      const socket = raw.socket as Socket & { destroySoon?: () => void };
      socket.destroySoon = () => lingeringClose(raw);
    }
    return payload;
  });
}

function drain(request: IncomingMessage, limits: DrainLimits): void {
  if (draining.has(request)) return;
  draining.add(request);
  const socket = request.socket;
  // Whatever was reading the body (the multipart parser) lets go of it; bytes now flow here.
  request.unpipe();
  request.removeAllListeners("data");
  let discarded = 0;
  const timer = setTimeout(() => giveUp(), limits.maxMs);
  timer.unref();
  const stop = () => {
    clearTimeout(timer);
    request.off("data", onData);
  };
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limits.maxBytes) giveUp();
  };
  const giveUp = () => {
    stop();
    lingeringClose(request);
  };
  request.on("data", onData);
  request.once("end", stop);
  socket.once("close", stop);
  request.resume();
}

const lingering = new WeakSet<Socket>();

/** Shuts the write side once the response is out, discards input a little longer, then closes. */
function lingeringClose(request: IncomingMessage): void {
  const socket = request.socket;
  if (socket.destroyed || lingering.has(socket)) return;
  lingering.add(socket);
  const destroy = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(destroy, LINGER_MS);
  timer.unref();
  socket.once("end", destroy);
  socket.once("close", () => clearTimeout(timer));
  // The response may still be on its way out: end() sends the FIN after it.
  socket.end();
  request.resume();
}
