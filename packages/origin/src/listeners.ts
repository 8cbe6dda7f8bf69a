import { STATUS_CODES, createServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { Http2SecureServer, Http2Session } from 'node:http2';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { NODE_HEADER, OwncdnError } from '@owncdn/core/runtime';
import type { Logger, OriginConfig } from '@owncdn/core';
import type { Handler } from './handler.js';
import type { ListenSpec } from './settings.js';

/** One bound socket: a plain/admin HTTP server or an HTTPS (HTTP/2 + HTTP/1.1) server. */
export interface Listener {
  readonly server: HttpServer | Http2SecureServer;
  readonly address: string;
  /** Open connections, destroyed when draining runs out of time. */
  readonly sockets: Set<Socket>;
  readonly sessions: Set<Http2Session>;
}

/**
 * Node checks headersTimeout and requestTimeout on this interval (default
 * 30 s): check often enough that a slow client is cut off close to the
 * configured time.
 */
export function checkingIntervalMs(origin: OriginConfig): number {
  return Math.max(50, Math.min(1_000, Math.floor(origin.headersTimeoutMs / 4)));
}

/** A plain HTTP/1.1 server with the configured limits (431 past maxHeaderBytes, timeouts for slow clients). */
export function createPlainServer(
  origin: OriginConfig,
  handler: Handler,
  node: string | null,
): HttpServer {
  const server = createServer(
    {
      maxHeaderSize: origin.maxHeaderBytes,
      requestTimeout: origin.requestTimeoutMs,
      headersTimeout: Math.min(
        origin.headersTimeoutMs,
        origin.requestTimeoutMs || origin.headersTimeoutMs,
      ),
      keepAliveTimeout: origin.keepAliveTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(origin),
      noDelay: true,
    },
    handler,
  );
  if (node !== null)
    server.on('clientError', (error: Error, socket: Duplex) =>
      answerClientError(error, socket, node),
    );
  return server;
}

/** Status for errors node:http raises before there is a request (as Node's own handler picks them). */
function clientErrorStatus(error: Error): number {
  const code = 'code' in error ? error.code : undefined;
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/**
 * Node's default answer to a malformed or timed-out request, plus the node
 * header, so that every answer says which node gave it. Like Node, it writes
 * nothing when a response is already under way on the socket.
 */
function answerClientError(error: Error, socket: Duplex, node: string): void {
  // `_httpMessage` is node:http's in-flight response on this socket (what Node's own handler checks).
  const inFlight: unknown = Reflect.get(socket, '_httpMessage');
  if (socket.writable && (inFlight === null || inFlight === undefined)) {
    const status = clientErrorStatus(error);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n${NODE_HEADER}: ${node}\r\n\r\n`,
    );
  }
  socket.destroy(error);
}

/** How often draining looks for connections that turned idle. */
const DRAIN_SWEEP_MS = 50;

/** Tracks connections so close() can drain them, then cut the slow ones. */
function track(listener: Listener): void {
  const { server, sockets, sessions } = listener;
  const onSocket = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.on('connection', onSocket);
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
}

function formatAddress(info: AddressInfo): string {
  return info.family === 'IPv6' ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
}

function listenOnce(server: NetServer, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    // `::` would also take IPv4 on Linux; `all` binds 0.0.0.0 separately.
    server.listen({ host, port, ipv6Only: host === '::' }, () => {
      server.off('error', onError);
      const address = server.address();
      if (address === null || typeof address === 'string')
        reject(new Error('listener has no address'));
      else resolve(address);
    });
  });
}

/**
 * Binds one server per host of `spec`, all on the same port (the first
 * bound decides it when the port is 0). `::` is skipped with a warning
 * where IPv6 is off. Throws OWNCDN_ORIGIN_LISTEN_FAILED otherwise.
 */
export async function bindAll(
  spec: ListenSpec,
  make: () => HttpServer | Http2SecureServer,
  what: string,
  log: Logger,
): Promise<Listener[]> {
  const out: Listener[] = [];
  let port = spec.port;
  for (const host of spec.hosts) {
    const server = make();
    try {
      const info = await listenOnce(server, host, port);
      port = info.port;
      const listener: Listener = {
        server,
        address: formatAddress(info),
        sockets: new Set(),
        sessions: new Set(),
      };
      track(listener);
      out.push(listener);
    } catch (error) {
      const code =
        typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
      if (host === '::' && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) {
        log.warn({ host, code }, 'IPv6 unavailable: not listening on ::');
        continue;
      }
      await closeListeners(out, 0);
      throw new OwncdnError(
        'OWNCDN_ORIGIN_LISTEN_FAILED',
        `cannot listen for ${what} on ${host}:${port}: ${code || String(error)}${code === 'EADDRINUSE' ? ' (another server holds the port)' : code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}`,
        { cause: error },
      );
    }
  }
  return out;
}

/**
 * Stops accepting, lets in-flight requests finish (idle keep-alive
 * connections close now, HTTP/2 sessions get GOAWAY), and destroys what is
 * still open after `drainMs`.
 */
export async function closeListeners(
  listeners: readonly Listener[],
  drainMs: number,
): Promise<void> {
  const closed = listeners.map(
    (l) =>
      new Promise<void>((resolve) => {
        l.server.close(() => resolve());
      }),
  );
  const closeIdle = (): void => {
    for (const l of listeners)
      if ('closeIdleConnections' in l.server) l.server.closeIdleConnections();
  };
  closeIdle();
  for (const l of listeners) for (const session of l.sessions) session.close();
  // A keep-alive connection whose response was in flight turns idle later: close it
  // then, instead of waiting for its keep-alive timeout.
  const sweeper = setInterval(closeIdle, DRAIN_SWEEP_MS);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      for (const l of listeners) for (const socket of l.sockets) socket.destroy();
      resolve();
    }, drainMs);
  });
  await Promise.race([Promise.all(closed), deadline]);
  clearTimeout(timer);
  clearInterval(sweeper);
  // After the deadline, the sockets are gone and close() completes promptly.
  await Promise.all(closed);
}
