import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { OwncdnError } from '@owncdn/core';
import type { NodeStatus, Override } from './health.js';
import { formatHostPort, parseHostPort } from './server.js';
import { TxtError } from './txt.js';

/**
 * The operators' and certd's HTTP API (loopback by default), every route
 * but /metrics behind `Authorization: Bearer <token>`. /metrics is open so a
 * Prometheus scraper needs no secret: it shows counters and node states,
 * which the DNS answers reveal anyway.
 */

/** Request bodies are a line of JSON; anything bigger is a mistake or an attack. */
const MAX_BODY_BYTES = 4096;

export interface ApiHandlers {
  nodes(): NodeStatus[];
  /** Resolves once the answers reflect the override. */
  setOverride(name: string, override: Override): Promise<NodeStatus | null>;
  /** Rejects with TxtError for a name or value that is not acceptable; resolves once answers include it. */
  addTxt(fqdn: string, value: string): Promise<void>;
  removeTxt(fqdn: string, value: string | null): Promise<void>;
  metrics(): Promise<string>;
}

export interface Api {
  readonly address: string;
  /** Reads the token file again (config reload). */
  setTokenFile(file: string): Promise<void>;
  close(): Promise<void>;
}

/** The trimmed content of the token file. Throws OWNCDN_DNS_API_FAILED when unreadable or empty. */
export async function readToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new OwncdnError(
      'OWNCDN_DNS_API_FAILED',
      `cannot read the API token file ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      { cause: error },
    );
  }
  const token = text.trim();
  if (token.length === 0)
    throw new OwncdnError(
      'OWNCDN_DNS_API_FAILED',
      `the API token file ${file} is empty (expected one line with the token, e.g. from \`openssl rand -hex 32\`)`,
    );
  return token;
}

/** Compares through SHA-256 digests, so neither the content nor the length leaks through timing. */
function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export async function startApi(
  listen: string,
  tokenFile: string,
  handlers: ApiHandlers,
): Promise<Api> {
  let token = await readToken(tokenFile);
  const { host, port } = parseHostPort(listen);
  const server = createServer((req, res) => {
    handle(req, res, token, handlers).catch((error: unknown) => {
      send(res, 500, {
        error: `internal error: ${error instanceof Error ? error.message : String(error)}`,
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new OwncdnError(
          'OWNCDN_DNS_API_FAILED',
          `cannot listen on ${listen} for the API: ${error.code ?? error.message}`,
          { cause: error },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const address =
    typeof bound === 'object' && bound ? formatHostPort(bound.address, bound.port) : listen;
  return {
    address,
    setTokenFile: async (file) => {
      token = await readToken(file);
    },
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res
    .writeHead(status, {
      'content-type':
        typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json',
      ...headers,
    })
    .end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function field(body: unknown, key: string): unknown {
  return typeof body === 'object' && body !== null && key in body
    ? (body as Record<string, unknown>)[key]
    : undefined;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
  handlers: ApiHandlers,
): Promise<void> {
  const url = req.url ?? '/';
  const path = url.split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
  if (path === '/metrics') {
    if (method !== 'GET') return send(res, 405, { error: 'use GET' }, { allow: 'GET' });
    return send(res, 200, await handlers.metrics());
  }
  const auth = req.headers.authorization ?? '';
  const given = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
  if (!tokenMatches(given, token)) {
    return send(
      res,
      401,
      {
        error:
          'missing or wrong bearer token (expected Authorization: Bearer <the content of dns.api.tokenFile>)',
      },
      { 'www-authenticate': 'Bearer' },
    );
  }
  try {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'v1') return send(res, 404, { error: `no route ${path}` });
    if (parts[1] === 'nodes' && parts.length === 2) {
      if (method !== 'GET') return send(res, 405, { error: 'use GET' }, { allow: 'GET' });
      return send(res, 200, handlers.nodes());
    }
    if (parts[1] === 'nodes' && parts.length === 4 && parts[3] === 'override') {
      if (method !== 'PUT') return send(res, 405, { error: 'use PUT' }, { allow: 'PUT' });
      const state = field(await readBody(req), 'state');
      if (state !== 'up' && state !== 'down' && state !== null) {
        return send(res, 400, { error: 'expected a body {"state": "up" | "down" | null}' });
      }
      const node = await handlers.setOverride(parts[2] ?? '', state);
      if (!node) return send(res, 404, { error: `no node called ${JSON.stringify(parts[2])}` });
      return send(res, 200, node);
    }
    if (parts[1] === 'txt' && parts.length === 3) {
      const fqdn = parts[2] ?? '';
      if (method === 'PUT') {
        const value = field(await readBody(req), 'value');
        if (typeof value !== 'string')
          return send(res, 400, { error: 'expected a body {"value": "<txt>"}' });
        await handlers.addTxt(fqdn, value);
        return send(res, 204);
      }
      if (method === 'DELETE') {
        const body = await readBody(req);
        const value = body === undefined ? null : field(body, 'value');
        if (value !== null && typeof value !== 'string')
          return send(res, 400, { error: 'expected no body, or {"value": "<txt>"}' });
        await handlers.removeTxt(fqdn, value);
        return send(res, 204);
      }
      return send(res, 405, { error: 'use PUT or DELETE' }, { allow: 'PUT, DELETE' });
    }
    return send(res, 404, { error: `no route ${path}` });
  } catch (error) {
    if (error instanceof HttpError) return send(res, error.status, { error: error.message });
    if (error instanceof TxtError) return send(res, 400, { error: error.message });
    if (error instanceof URIError)
      return send(res, 400, { error: 'bad percent-encoding in the path' });
    throw error;
  }
}
