import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createTlsServer, createSecureContext } from 'node:tls';
import type { Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import { ACME_CHALLENGE_PREFIX, ACME_TOKEN_PATTERN, NODE_LAYOUT } from '@owncdn/core';
import { onTestFinished } from 'vitest';

/**
 * A stand-in for origin (issue 3) while it is being built: answers HTTP-01
 * from `<root>/acme-challenge/<token>` or, statelessly, `<token>.<thumbprint>`;
 * serves TLS from `<root>/certs/<name>/`, read at every handshake so a new
 * certificate is live at once. Closed when the test finishes.
 */
export async function startFakeOrigin(options: {
  root: string;
  address: string;
  httpPort: number;
  httpsPort: number;
  cert: string;
}): Promise<{ close(): Promise<void> }> {
  const http: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const token = url.startsWith(ACME_CHALLENGE_PREFIX)
      ? url.slice(ACME_CHALLENGE_PREFIX.length)
      : '';
    if (!ACME_TOKEN_PATTERN.test(token)) return void res.writeHead(404).end();
    void (async () => {
      const file = await readFile(
        join(options.root, NODE_LAYOUT.acmeChallenge, token),
        'utf8',
      ).catch(() => null);
      if (file !== null) return void res.writeHead(200).end(file);
      const thumbprint = await readFile(
        join(options.root, NODE_LAYOUT.acmeThumbprint),
        'utf8',
      ).catch(() => null);
      if (thumbprint !== null) return void res.writeHead(200).end(`${token}.${thumbprint.trim()}`);
      res.writeHead(404).end();
    })();
  });
  const tls: TlsServer = createTlsServer({
    SNICallback: (_servername, callback) => {
      const dir = join(options.root, NODE_LAYOUT.certs, options.cert);
      Promise.all([
        readFile(join(dir, NODE_LAYOUT.fullchain)),
        readFile(join(dir, NODE_LAYOUT.privkey)),
      ])
        .then(([cert, key]) => callback(null, createSecureContext({ cert, key })))
        .catch((error: unknown) =>
          callback(error instanceof Error ? error : new Error(String(error))),
        );
    },
  });
  tls.on('secureConnection', (socket) => socket.end());
  tls.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => http.listen(options.httpPort, options.address, resolve));
  await new Promise<void>((resolve) => tls.listen(options.httpsPort, options.address, resolve));
  const close = async () => {
    http.closeAllConnections();
    await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => tls.close(r))]);
  };
  let closed = false;
  onTestFinished(async () => {
    if (!closed) await close();
  });
  return {
    close: async () => {
      closed = true;
      await close();
    },
  };
}
