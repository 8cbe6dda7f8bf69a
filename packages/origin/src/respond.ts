import { createReadStream } from 'node:fs';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream';
import type { Writable } from 'node:stream';
import { ACCEPT_BR, ACCEPT_GZIP, PREFER_GZIP, parseAcceptEncoding } from './encoding.js';
import { countResponse } from './counters.js';
import type { Counters } from './counters.js';
import type { Entry, HeaderList } from './entry.js';

/** The part of an HTTP/1.1 or HTTP/2 (compatibility API) request origin reads. */
export interface Ask {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersion: string;
  readonly socket: { readonly remoteAddress?: string | undefined };
}

/** The part of an HTTP/1.1 or HTTP/2 (compatibility API) response origin writes. */
export interface Reply extends Writable {
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders | HeaderList): unknown;
  readonly statusCode: number;
}

/** Range outcome: a byte span, the whole file (no usable Range), or 416. */
const WHOLE = null;
const UNSATISFIABLE = -1;
type RangeResult =
  { readonly start: number; readonly end: number } | typeof WHOLE | typeof UNSATISFIABLE;

/**
 * Parses a Range header against a length (RFC 9110 §14.2): one `bytes=` span
 * (`a-b`, `a-`, `-n`). Several spans, other units and bad syntax are ignored
 * (the whole file is sent, as the RFC allows); a span starting past the end,
 * or a zero suffix, is unsatisfiable.
 */
export function parseRange(header: string, size: number): RangeResult {
  if (!header.startsWith('bytes=') || header.includes(',')) return WHOLE;
  const spec = header.slice(6).trim();
  const dash = spec.indexOf('-');
  if (dash === -1) return WHOLE;
  const first = spec.slice(0, dash).trim();
  const last = spec.slice(dash + 1).trim();
  const digits = /^\d+$/;
  if (first === '') {
    if (!digits.test(last)) return WHOLE;
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return UNSATISFIABLE;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  if (!digits.test(first) || (last !== '' && !digits.test(last))) return WHOLE;
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return WHOLE;
  if (start >= size) return UNSATISFIABLE;
  return { start, end };
}

/** RFC 9110 §13.1.2: `*` or a list holding the tag (weak comparison: W/ prefixes match too). */
function matchesEtag(header: string, etag: string): boolean {
  return header === etag || header.trim() === '*' || header.includes(etag);
}

/** RFC 9110 §13.1.3: not modified when the file is not newer than the date given. */
function isUnmodifiedSince(header: string | undefined, modifiedMs: number): boolean {
  if (header === undefined) return false;
  const since = Date.parse(header);
  return !Number.isNaN(since) && modifiedMs <= since;
}

/**
 * Sends a file of the site: 304 on a matching validator, 206/416 for a
 * single Range, else the best variant the client accepts with its prebuilt
 * headers. `status` is 200, or 404 for the site's 404 page (no validators,
 * no ranges then). Large files stream from disk with the same headers.
 */
export function sendEntry(
  req: Ask,
  res: Reply,
  entry: Entry,
  status: number,
  isHead: boolean,
  counters: Counters,
): void {
  const h = req.headers;
  if (status === 200) {
    const inm = h['if-none-match'];
    if (
      inm !== undefined
        ? matchesEtag(inm, entry.etag)
        : isUnmodifiedSince(h['if-modified-since'], entry.modifiedMs)
    ) {
      res.writeHead(304, entry.notModifiedHeaders);
      res.end();
      countResponse(counters, 304, 0);
      return;
    }
    const range = h.range;
    if (range !== undefined) {
      const ifRange = h['if-range'];
      if (ifRange === undefined || ifRange === entry.etag || ifRange === entry.lastModified) {
        const span = parseRange(range, entry.size);
        if (span !== WHOLE) return sendPartial(res, entry, span, isHead, counters);
      }
    }
  }
  let body = entry.identity.body;
  let headers = entry.identity.headers;
  const accept = h['accept-encoding'];
  if (accept !== undefined && (entry.br !== null || entry.gzip !== null)) {
    const bits = parseAcceptEncoding(accept);
    if (
      entry.br !== null &&
      (bits & ACCEPT_BR) !== 0 &&
      ((bits & PREFER_GZIP) === 0 || entry.gzip === null)
    ) {
      body = entry.br.body;
      headers = entry.br.headers;
    } else if (entry.gzip !== null && (bits & ACCEPT_GZIP) !== 0) {
      body = entry.gzip.body;
      headers = entry.gzip.headers;
    }
  }
  res.writeHead(status, headers);
  if (isHead) {
    res.end();
    countResponse(counters, status, 0);
  } else if (body !== null) {
    res.end(body);
    countResponse(counters, status, body.length);
  } else {
    streamFile(res, entry.file, 0, entry.size - 1);
    countResponse(counters, status, entry.size);
  }
}

function sendPartial(
  res: Reply,
  entry: Entry,
  span: Exclude<RangeResult, null>,
  isHead: boolean,
  counters: Counters,
): void {
  if (span === UNSATISFIABLE) {
    // Not a hot path: a fresh object per 416/206 is fine.
    const headers: OutgoingHttpHeaders = {
      ...entry.partialHeaders,
      'content-range': `bytes */${entry.size}`,
      'content-length': 0,
    };
    delete headers['content-type'];
    res.writeHead(416, headers);
    res.end();
    countResponse(counters, 416, 0);
    return;
  }
  const length = span.end - span.start + 1;
  res.writeHead(206, {
    ...entry.partialHeaders,
    'content-range': `bytes ${span.start}-${span.end}/${entry.size}`,
    'content-length': length,
  });
  countResponse(counters, 206, isHead ? 0 : length);
  if (isHead) res.end();
  else if (entry.identity.body !== null)
    res.end(entry.identity.body.subarray(span.start, span.end + 1));
  else streamFile(res, entry.file, span.start, span.end);
}

function streamFile(res: Reply, file: string, start: number, end: number): void {
  if (end < start) {
    res.end();
    return;
  }
  pipeline(createReadStream(file, { start, end }), res, () => {
    // pipeline already destroyed the response on a read error (the client sees a cut
    // body of the announced length, never a wrong one); nothing more to do here.
  });
}
