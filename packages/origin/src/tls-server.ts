/**
 * The HTTPS listener, in its own module so that a process without HTTPS
 * (`--dir`, or a node with no HTTPS port) never loads node:http2 and
 * node:tls (~2.4 MiB resident per process).
 */
import { createSecureServer } from 'node:http2';
import type { Http2SecureServer } from 'node:http2';
import type { SecureContext } from 'node:tls';
import type { OriginConfig } from '@owncdn/core';
import type { Handler } from './handler.js';
import { checkingIntervalMs } from './listeners.js';

/**
 * An HTTPS server speaking HTTP/2 with HTTP/1.1 fallback (ALPN). The
 * certificate comes from `pick` per handshake (SNI), so a replaced
 * certificate applies to new connections while open ones keep theirs.
 */
export function createTlsServer(
  origin: OriginConfig,
  handler: Handler,
  pick: (servername: string) => SecureContext | undefined,
): Http2SecureServer {
  const server = createSecureServer(
    {
      allowHTTP1: true,
      SNICallback: (servername, callback) => {
        const context = pick(servername);
        if (context === undefined) callback(new Error('no certificate for this name yet'));
        else callback(null, context);
      },
      // nginx's http2_max_concurrent_streams is 128; Node's default is unbounded.
      settings: { maxHeaderListSize: origin.maxHeaderBytes, maxConcurrentStreams: 128 },
      // MB per HTTP/2 connection (Node's default): past it new streams are refused.
      maxSessionMemory: 10,
    },
    handler,
  );
  // HTTP/1.1 over TLS goes through node:http's parser and connection tracking,
  // which read these from the server (allowHTTP1 sets Node's own defaults).
  Object.assign(server, {
    maxHeaderSize: origin.maxHeaderBytes,
    headersTimeout: Math.min(
      origin.headersTimeoutMs,
      origin.requestTimeoutMs || origin.headersTimeoutMs,
    ),
    requestTimeout: origin.requestTimeoutMs,
    connectionsCheckingInterval: checkingIntervalMs(origin),
  });
  // An HTTP/2 session (or TLS socket) idle this long is closed.
  server.setTimeout(origin.requestTimeoutMs);
  return server;
}
