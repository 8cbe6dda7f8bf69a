import type { OutgoingHttpHeaders } from 'node:http';
import { ACME_CHALLENGE_PREFIX, NODE_HEADER } from '@owncdn/core/runtime';
import type { Logger } from '@owncdn/core';
import { answerChallenge } from './acme.js';
import { countResponse } from './counters.js';
import type { Counters } from './counters.js';
import { renderHealth, renderMetrics } from './healthz.js';
import type { HealthFacts } from './healthz.js';
import { lookupKey, queryOf } from './lookup.js';
import { sendEntry } from './respond.js';
import type { Ask, Reply } from './respond.js';
import type { Settings } from './settings.js';
import type { Site } from './site.js';
import type { Certificate } from './tls.js';

/** The mutable state requests read: each reference is swapped whole on reload, never edited. */
export interface ServingState {
  settings: Settings;
  site: Site | null;
  release: string | null;
  certificates: readonly Certificate[];
  /** Host names plain HTTP may redirect to (site names and certificate names). */
  redirectHosts: ReadonlySet<string>;
  /** The bound HTTPS port (the configured one may be 0), or null without HTTPS. */
  httpsPort: number | null;
  readonly counters: Counters;
  readonly startedMs: number;
  /** Counters summed over every worker (the local ones outside a cluster). */
  gatherCounters(): Promise<Counters>;
  readonly log: Logger;
}

export type Handler = (req: Ask, res: Reply) => void;

/** What a listener answers: the site (plain HTTP or HTTPS), or only /healthz and /metrics (admin). */
export type ListenerKind = 'plain' | 'secure' | 'admin';

/** Builds the request handler of one kind of listener, reading `state` on every request. */
export function createHandler(state: ServingState, kind: ListenerKind): Handler {
  return (req, res) => {
    handle(state, kind, req, res);
  };
}

/** Facts for /healthz and /metrics, from the current state. */
export function healthFacts(state: ServingState): HealthFacts {
  return {
    node: state.settings.node,
    release: state.release,
    files: state.site?.files ?? 0,
    bytes: state.site?.bytes ?? 0,
    certificates: state.certificates,
    startedMs: state.startedMs,
    version: state.settings.version,
  };
}

function handle(state: ServingState, kind: ListenerKind, req: Ask, res: Reply): void {
  const settings = state.settings;
  const origin = settings.origin;
  const target = req.url ?? '/';
  if (target.length > origin.maxUrlBytes) return sendText(state, res, 414, 'URI too long\n');
  const key = lookupKey(target);
  if (key === null) return sendText(state, res, 400, 'bad request path\n');
  const adminHere = kind === 'admin' || settings.admin === null;
  if (adminHere && key === origin.healthPath) return sendHealth(state, req, res);
  if (adminHere && key === origin.metricsPath) return sendMetrics(state, req, res);
  if (kind === 'admin') return sendText(state, res, 404, 'not found\n');
  if (settings.root !== null && key.startsWith(ACME_CHALLENGE_PREFIX)) {
    return sendChallenge(state, settings.root, key.slice(ACME_CHALLENGE_PREFIX.length), req, res);
  }
  const httpsPort = state.httpsPort;
  if (
    kind === 'plain' &&
    httpsPort !== null &&
    origin.redirectHttps &&
    state.certificates.length > 0
  ) {
    const location = httpsLocation(state, req, target, httpsPort);
    if (location !== null) return sendRedirect(state, res, 308, location);
  }
  const method = req.method;
  if (method !== 'GET' && method !== 'HEAD') {
    return sendText(state, res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  }
  const site = state.site;
  if (site === null)
    return sendText(state, res, 503, 'no release loaded yet\n', { 'retry-after': '5' });
  const route = site.routes.get(key);
  if (route === undefined) {
    if (site.notFound !== null)
      return sendEntry(req, res, site.notFound, 404, method === 'HEAD', state.counters);
    return sendText(state, res, 404, 'not found\n');
  }
  if (route.kind === 'redirect')
    return sendRedirect(state, res, 301, route.location + queryOf(target));
  sendEntry(req, res, route, 200, method === 'HEAD', state.counters);
}

/**
 * The https:// URL for a plain request, or null when the Host is not one of
 * the site's names (the redirect never points at a name an attacker chose).
 */
function httpsLocation(state: ServingState, req: Ask, target: string, port: number): string | null {
  const hostHeader = req.headers.host ?? '';
  const colon = hostHeader.lastIndexOf(':');
  const host = (
    colon > hostHeader.lastIndexOf(']') ? hostHeader.slice(0, colon) : hostHeader
  ).toLowerCase();
  if (!state.redirectHosts.has(host)) return null;
  return `https://${host}${port === 443 ? '' : `:${port}`}${target}`;
}

function baseHeaders(state: ServingState): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  if (state.settings.node !== null) headers[NODE_HEADER] = state.settings.node;
  return headers;
}

function sendText(
  state: ServingState,
  res: Reply,
  status: number,
  text: string,
  extra?: OutgoingHttpHeaders,
): void {
  sendNoStore(state, res, status, 'text/plain; charset=utf-8', Buffer.from(text), false, extra);
}

/** A generated answer that must never be cached (errors, health, metrics, challenges). */
function sendNoStore(
  state: ServingState,
  res: Reply,
  status: number,
  contentType: string,
  body: Buffer,
  isHead: boolean,
  extra?: OutgoingHttpHeaders,
): void {
  const headers = baseHeaders(state);
  headers['content-type'] = contentType;
  headers['content-length'] = body.length;
  headers['cache-control'] = 'no-store';
  if (extra) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(isHead ? undefined : body);
  countResponse(state.counters, status, body.length);
}

function sendRedirect(state: ServingState, res: Reply, status: number, location: string): void {
  const headers = baseHeaders(state);
  headers.location = location;
  headers['content-length'] = 0;
  res.writeHead(status, headers);
  res.end();
  countResponse(state.counters, status, 0);
}

function sendHealth(state: ServingState, req: Ask, res: Reply): void {
  const { status, body } = renderHealth(healthFacts(state));
  sendNoStore(state, res, status, 'application/json', Buffer.from(body), req.method === 'HEAD');
}

function sendMetrics(state: ServingState, req: Ask, res: Reply): void {
  state.gatherCounters().then(
    (counters) => {
      const text = renderMetrics(healthFacts(state), counters, state.settings.workers);
      const type = 'text/plain; version=0.0.4; charset=utf-8';
      sendNoStore(state, res, 200, type, Buffer.from(text), req.method === 'HEAD');
    },
    (error: unknown) => {
      state.log.warn({ err: error }, 'metrics unavailable');
      sendText(state, res, 503, 'metrics unavailable\n');
    },
  );
}

function sendChallenge(
  state: ServingState,
  root: string,
  token: string,
  req: Ask,
  res: Reply,
): void {
  answerChallenge(root, token).then(
    (answer) => {
      if (answer === null) return sendText(state, res, 404, 'no such challenge\n');
      sendNoStore(state, res, 200, 'text/plain', answer, req.method === 'HEAD');
    },
    (error: unknown) => {
      // An unreadable challenge file is a node problem certd will report as a failed order.
      state.log.warn({ err: error, token }, 'acme challenge unreadable');
      sendText(state, res, 500, 'challenge unreadable\n');
    },
  );
}
