import { rootCertificates } from 'node:tls';
import { Client } from 'acme-client';
import { OwncdnError } from '@owncdn/core';
import type { ErrorCode } from '@owncdn/core';
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';

/** An ACME error that carries what the CA said: the problem type and how long to wait. */
export class AcmeError extends OwncdnError {
  /** From `Retry-After`, in ms; null when the CA gave none. */
  readonly retryAfterMs: number | null;
  /** RFC 8555 §6.7 problem type, e.g. `urn:ietf:params:acme:error:rateLimited`, or null. */
  readonly problemType: string | null;
  constructor(
    code: ErrorCode,
    message: string,
    opts: ErrorOptions & {
      retryable?: boolean;
      retryAfterMs?: number | null;
      problemType?: string | null;
    } = {},
  ) {
    super(code, message, opts);
    this.retryAfterMs = opts.retryAfterMs ?? null;
    this.problemType = opts.problemType ?? null;
  }
}

/** The parts of an ACME directory certd uses beyond what acme-client reads. */
export interface AcmeDirectory {
  /** RFC 9773 renewalInfo URL, or null when the CA has no ARI. */
  readonly renewalInfo: string | null;
  /** Profile names the CA lists in `meta.profiles` (draft-aaron-acme-profiles). */
  readonly profiles: readonly string[];
}

/** RFC 9773 §4.2: the window the CA suggests renewing in, and when to ask again. */
export interface RenewalInfo {
  readonly start: number;
  readonly end: number;
  /** Epoch ms after which to poll again (from Retry-After). */
  readonly retryAt: number | null;
  readonly explanationUrl: string | null;
}

export interface AcmeSessionOptions {
  readonly directoryUrl: string;
  readonly accountKeyPem: string;
  readonly accountUrl?: string | null;
  readonly eab?: { readonly kid: string; readonly hmacKey: string } | null;
  /** Extra CA certificates (PEM) to trust for the ACME server, e.g. Pebble's. */
  readonly caPem?: string | null;
  /** Per request, ms: acme-client has no timeout of its own. */
  readonly requestTimeoutMs: number;
  /** First wait between status polls, ms (acme-client's default is 5 s). */
  readonly pollIntervalMs: number;
  /** Largest wait between status polls, ms. */
  readonly pollMaxIntervalMs: number;
  /** Status polls before giving up on an order or authorisation. */
  readonly pollAttempts: number;
}

export interface AcmeSession {
  readonly client: Client;
  directory(): Promise<AcmeDirectory>;
  /** GET renewalInfo/<certId> (RFC 9773 §4.1); null when the CA has no ARI. */
  renewalInfo(certId: string): Promise<RenewalInfo | null>;
  close(): Promise<void>;
}

interface AxiosLikeResponse {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

const BAD_NONCE = 'urn:ietf:params:acme:error:badNonce';
const RATE_LIMITED = 'urn:ietf:params:acme:error:rateLimited';

/**
 * An acme-client Client whose HTTP goes through undici instead of its shared
 * axios instance, so that each session has its own trusted CA and request
 * timeout, and so that 429/503 reach certd at once as an AcmeError with the
 * Retry-After instead of acme-client sleeping the full Retry-After itself
 * (up to five times, uncapped). Bad-nonce answers still go back to
 * acme-client, which retries them with the fresh nonce.
 */
export function createAcmeSession(options: AcmeSessionOptions): AcmeSession {
  const agent = new Agent({
    connect: {
      ...(options.caPem ? { ca: [...tlsRootCertificates(), options.caPem] } : {}),
      timeout: options.requestTimeoutMs,
    },
    headersTimeout: options.requestTimeoutMs,
    bodyTimeout: options.requestTimeoutMs,
  });
  const client = new Client({
    directoryUrl: options.directoryUrl,
    accountKey: options.accountKeyPem,
    ...(options.accountUrl ? { accountUrl: options.accountUrl } : {}),
    ...(options.eab ? { externalAccountBinding: options.eab } : {}),
    backoffMin: options.pollIntervalMs,
    backoffMax: options.pollMaxIntervalMs,
    backoffAttempts: options.pollAttempts,
  });
  const send = (url: string, method: string, body?: unknown) =>
    sendRequest(agent, url, method, body, options.requestTimeoutMs);
  replaceHttp(client, async (url, method, opts) => {
    const response = await send(url, method, opts.data);
    if (response.status < 400) return response;
    const problem = problemOf(response.data);
    if (response.status === 400 && problem.type === BAD_NONCE) return response;
    throw errorForResponse(url, response, problem);
  });

  let directory: Promise<Record<string, unknown>> | undefined;
  const getDirectory = () =>
    (directory ??= send(options.directoryUrl, 'get').then((response) => {
      if (response.status !== 200 || !isRecord(response.data)) {
        directory = undefined;
        throw errorForResponse(options.directoryUrl, response, problemOf(response.data));
      }
      return response.data;
    }));

  return {
    client,
    directory: async () => {
      const raw = await getDirectory();
      const meta = isRecord(raw.meta) ? raw.meta : {};
      return {
        renewalInfo: typeof raw.renewalInfo === 'string' ? raw.renewalInfo : null,
        profiles: isRecord(meta.profiles) ? Object.keys(meta.profiles) : [],
      };
    },
    renewalInfo: async (certId) => {
      const raw = await getDirectory();
      if (typeof raw.renewalInfo !== 'string') return null;
      const url = `${raw.renewalInfo.replace(/\/$/, '')}/${certId}`;
      const response = await send(url, 'get');
      if (response.status !== 200) throw errorForResponse(url, response, problemOf(response.data));
      return parseRenewalInfo(response.data, response.headers['retry-after']);
    },
    close: () => agent.close(),
  };
}

/** Parses an RFC 9773 renewalInfo response; throws AcmeError on a malformed one. */
export function parseRenewalInfo(
  data: unknown,
  retryAfter: string | undefined,
  now = Date.now(),
): RenewalInfo {
  const window = isRecord(data) && isRecord(data.suggestedWindow) ? data.suggestedWindow : null;
  const start = window && typeof window.start === 'string' ? Date.parse(window.start) : NaN;
  const end = window && typeof window.end === 'string' ? Date.parse(window.end) : NaN;
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) {
    throw new AcmeError(
      'OWNCDN_ACME_FAILED',
      'the CA sent a renewalInfo without a valid suggestedWindow',
      { retryable: true },
    );
  }
  const retryAfterMs = parseRetryAfter(retryAfter, now);
  return {
    start,
    end,
    retryAt: retryAfterMs === null ? null : now + retryAfterMs,
    explanationUrl:
      isRecord(data) && typeof data.explanationURL === 'string' ? data.explanationURL : null,
  };
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP date; returns ms from `now`, or null. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined || value === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : null;
}

async function sendRequest(
  agent: Dispatcher,
  url: string,
  method: string,
  body: unknown,
  timeoutMs: number,
): Promise<AxiosLikeResponse> {
  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, {
      method: httpMethod(method),
      dispatcher: agent,
      headers: {
        'content-type': 'application/jose+json',
        'user-agent': 'owncdn-certd (acme-client 5.4.0)',
      },
      body:
        body === undefined || body === null
          ? undefined
          : typeof body === 'string'
            ? body
            : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AcmeError(
      'OWNCDN_ACME_UNREACHABLE',
      `ACME server unreachable: ${method.toUpperCase()} ${url} failed: ${reason}`,
      {
        cause: error,
        retryable: true,
      },
    );
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined)
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  const text = await response.body.text();
  const type = headers['content-type'] ?? '';
  let data: unknown = text;
  if (/json/.test(type) && text !== '') {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON after all: keep the text; callers check the shape they need.
      data = text;
    }
  }
  return { status: response.statusCode, headers, data };
}

function httpMethod(method: string): Dispatcher.HttpMethod {
  const upper = method.toUpperCase();
  if (upper === 'GET' || upper === 'HEAD' || upper === 'POST') return upper;
  throw new OwncdnError(
    'OWNCDN_INTERNAL',
    `acme-client asked for an unexpected HTTP method ${method}`,
  );
}

function problemOf(data: unknown): { type: string | null; detail: string | null } {
  if (!isRecord(data))
    return { type: null, detail: typeof data === 'string' && data.length < 200 ? data : null };
  return {
    type: typeof data.type === 'string' ? data.type : null,
    detail: typeof data.detail === 'string' ? data.detail : null,
  };
}

function errorForResponse(
  url: string,
  response: AxiosLikeResponse,
  problem: { type: string | null; detail: string | null },
): AcmeError {
  const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
  const what = `${problem.detail ?? `HTTP ${response.status}`}${problem.type ? ` (${problem.type.replace('urn:ietf:params:acme:error:', '')})` : ''}`;
  if (response.status === 429 || problem.type === RATE_LIMITED) {
    return new AcmeError('OWNCDN_ACME_RATE_LIMITED', `the CA rate-limited ${url}: ${what}`, {
      retryable: true,
      retryAfterMs,
      problemType: problem.type,
    });
  }
  const serverSide = response.status >= 500;
  return new AcmeError(
    serverSide ? 'OWNCDN_ACME_UNREACHABLE' : 'OWNCDN_ACME_FAILED',
    `the CA refused ${url}: ${what}`,
    {
      retryable: serverSide || problem.type === 'urn:ietf:params:acme:error:serverInternal',
      retryAfterMs,
      problemType: problem.type,
    },
  );
}

type RequestFn = (
  url: string,
  method: string,
  opts: { data?: unknown },
) => Promise<AxiosLikeResponse>;

/**
 * acme-client 5.4.0 keeps its HttpClient in `client.http` and sends every
 * request through its `request(url, method, opts)` method; replacing that one
 * method keeps its JWS signing and nonce handling. Checked at runtime so a
 * different acme-client version fails loudly instead of silently using axios.
 */
function replaceHttp(client: Client, fn: RequestFn): void {
  const http: unknown = Reflect.get(client, 'http');
  if (!isRecord(http) || typeof http.request !== 'function') {
    throw new OwncdnError(
      'OWNCDN_INTERNAL',
      'acme-client has no http.request to route through undici (expected acme-client 5.4.0)',
    );
  }
  Reflect.set(http, 'request', (url: string, method: string, opts: unknown) =>
    fn(url, method, isRecord(opts) ? { data: opts.data } : {}),
  );
}

/** Trusting an extra CA must not drop the system ones: `ca` replaces them. */
function tlsRootCertificates(): readonly string[] {
  return rootCertificates;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
