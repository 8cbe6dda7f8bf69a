import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { Agent, request } from 'undici';
import { onTestFinished } from 'vitest';
import type { Pebble } from '../../../test/support/pebble.js';

/** The renewal window the proxy answers for every certificate id (epoch ms), or a status to fail with. */
export type AriAnswer = { start: number; end: number; retryAfterS?: number } | { status: number };

export interface AriProxy {
  readonly directoryUrl: string;
  /** Certificate ids asked for at renewalInfo/<id>. */
  readonly asked: string[];
  /** Payloads of newOrder requests (decoded JWS payloads), to see `replaces` and `profile`. */
  readonly newOrders: Record<string, unknown>[];
  answer: AriAnswer;
  /** When set, newOrder is answered with this problem instead of reaching Pebble. */
  failNewOrder: { status: number; type: string; retryAfterS?: number } | null;
  /** Profiles to list in the directory's meta.profiles (none by default). */
  profiles: Record<string, string> | null;
}

/**
 * Pebble 2.4 has no ARI (RFC 9773). This HTTPS proxy in front of the real
 * Pebble adds `renewalInfo` to the directory and answers it with `answer`;
 * everything else goes to Pebble unchanged, with the Host header kept, so
 * Pebble builds its URLs and checks the JWS `url` against the proxy's address.
 */
export async function startAriProxy(pebble: Pebble, answer: AriAnswer): Promise<AriProxy> {
  const upstream = new URL(pebble.directoryUrl);
  const agent = new Agent({ connect: { ca: pebble.apiCaPem } });
  const state: AriProxy = {
    directoryUrl: '',
    asked: [],
    newOrders: [],
    answer,
    failNewOrder: null,
    profiles: null,
  };
  let base = '';
  const server = createServer(
    { cert: await readFile(pebble.apiCertPath), key: await readFile(pebble.apiKeyPath) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const url = req.url ?? '/';
          if (url.startsWith('/renewal-info/')) {
            state.asked.push(url.slice('/renewal-info/'.length));
            const a = state.answer;
            if ('status' in a)
              return void res
                .writeHead(a.status, { 'content-type': 'application/problem+json' })
                .end(
                  '{"type":"urn:ietf:params:acme:error:serverInternal","detail":"proxy says no"}',
                );
            res.writeHead(200, {
              'content-type': 'application/json',
              ...(a.retryAfterS ? { 'retry-after': String(a.retryAfterS) } : {}),
            });
            return void res.end(
              JSON.stringify({
                suggestedWindow: {
                  start: new Date(a.start).toISOString(),
                  end: new Date(a.end).toISOString(),
                },
              }),
            );
          }
          const body = Buffer.concat(chunks);
          if (req.method === 'POST' && url.includes('order-plz') && state.failNewOrder) {
            const f = state.failNewOrder;
            state.newOrders.push(decodePayload(body));
            res.writeHead(f.status, {
              'content-type': 'application/problem+json',
              ...(f.retryAfterS ? { 'retry-after': String(f.retryAfterS) } : {}),
            });
            return void res.end(
              JSON.stringify({ type: f.type, detail: 'too many new orders recently' }),
            );
          }
          const upstreamResponse = await request(`${upstream.origin}${url}`, {
            method: req.method === 'POST' ? 'POST' : req.method === 'HEAD' ? 'HEAD' : 'GET',
            headers: { ...req.headers, host: req.headers.host ?? '' },
            body: body.length > 0 ? body : undefined,
            dispatcher: agent,
          });
          let text = await upstreamResponse.body.text();
          if (url === upstream.pathname && req.method === 'GET') {
            const directory: unknown = JSON.parse(text);
            text = JSON.stringify({
              ...(typeof directory === 'object' ? directory : {}),
              renewalInfo: `${base}/renewal-info`,
              ...(state.profiles
                ? { meta: { ...metaOf(directory), profiles: state.profiles } }
                : {}),
            });
          }
          if (req.method === 'POST' && url.includes('order-plz'))
            state.newOrders.push(decodePayload(body));
          const headers: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(upstreamResponse.headers))
            if (v !== undefined && k !== 'content-length' && k !== 'transfer-encoding')
              headers[k] = v;
          res.writeHead(upstreamResponse.statusCode, headers).end(text);
        })().catch((error: unknown) => res.writeHead(502).end(String(error)));
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  base = `https://127.0.0.1:${port}`;
  Object.assign(state, { directoryUrl: `${base}${upstream.pathname}` });
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await agent.close();
  });
  return state;
}

function decodePayload(body: Buffer): Record<string, unknown> {
  const jws: unknown = JSON.parse(body.toString('utf8'));
  if (
    typeof jws !== 'object' ||
    jws === null ||
    !('payload' in jws) ||
    typeof jws.payload !== 'string'
  )
    return {};
  const payload: unknown = JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8'));
  return typeof payload === 'object' && payload !== null ? { ...payload } : {};
}

function metaOf(directory: unknown): Record<string, unknown> {
  if (typeof directory !== 'object' || directory === null || !('meta' in directory)) return {};
  const meta: unknown = directory.meta;
  return typeof meta === 'object' && meta !== null ? { ...meta } : {};
}
