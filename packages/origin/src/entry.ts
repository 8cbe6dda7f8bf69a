import type { Stats } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import mime from 'mime';
import { NODE_HEADER } from '@owncdn/core/runtime';
import { defaultCacheControl, headersFor } from './headers.js';
import type { CompiledRules } from './headers.js';

/**
 * Final response headers as one flat list of names and values
 * (`['content-type', 'text/html; charset=utf-8', 'etag', '"…"', …]`), every
 * value a string. node:http walks such a list by index, where an object
 * costs a for-in and an own-property check per header and a number a
 * conversion per response: 2.5 % less CPU per 4 KiB response with nine
 * headers (measured for issue 3, node:http alone, both pinned to one core).
 * HTTP/2's compatibility API takes the same list.
 */
export type HeaderList = string[];

/** One file of the site, with everything a response needs computed once. */
export interface Entry {
  readonly kind: 'file';
  readonly urlPath: string;
  /** Device, inode, size and times of the file: unchanged stamp, unchanged content. */
  readonly stamp: string;
  /** What was read and computed for that stamp, reused by the next build. */
  readonly source: CachedFile;
  /** Real path on disk (inside the served directory). */
  readonly file: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: string;
  /** Last-Modified in ms, truncated to the second as the header is. */
  readonly modifiedMs: number;
  /** The bytes (null when above maxMemoryFileBytes: streamed from disk) and final headers of a 200. */
  readonly identity: { readonly body: Buffer | null; readonly headers: HeaderList };
  /** Compressed variants, present only when smaller. */
  readonly br: Variant | null;
  readonly gzip: Variant | null;
  /** Headers of a 304, and of a 206 (no length: added per range, so an object to spread). */
  readonly notModifiedHeaders: HeaderList;
  readonly partialHeaders: OutgoingHttpHeaders;
}

/** A compressed representation and its final headers. */
export interface Variant {
  readonly body: Buffer;
  readonly headers: HeaderList;
}

/** What a build reuses for a file whose identity (device, inode, size, times) did not change. */
export interface CachedFile {
  readonly body: Buffer | null;
  readonly hash: string;
  readonly br: Buffer | null;
  readonly gzip: Buffer | null;
}

/** A file found under the served directory. */
export interface Found {
  readonly urlPath: string;
  readonly file: string;
  readonly stats: Stats;
}

export interface EntryOptions {
  readonly maxMemoryFileBytes: number;
  readonly rules: CompiledRules;
  /** Node name for the x-owncdn-node header, or null. */
  readonly node: string | null;
}

export /** Finds a precompressed sibling (`/a.css.br`) of a file being loaded. */
type SiblingLookup = (
  urlPath: string,
) => { readonly file: string; readonly size: number } | undefined;

/** What identifies a file's content without reading it: device, inode, size and times. */
export function identity(s: Stats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

/** Content-Type from the extension (the `mime` package), with a charset for text. */
export function contentType(urlPath: string): string {
  const type = mime.getType(urlPath) ?? 'application/octet-stream';
  const textual =
    type.startsWith('text/') ||
    type === 'application/javascript' ||
    type === 'application/json' ||
    type === 'application/manifest+json' ||
    type === 'application/xml' ||
    type === 'image/svg+xml' ||
    type.endsWith('+xml') ||
    type.endsWith('+json');
  return textual ? `${type}; charset=utf-8` : type;
}

export function makeEntry(
  item: Found,
  stamp: string,
  cached: CachedFile,
  options: EntryOptions,
): Entry {
  const { urlPath } = item;
  const type = contentType(urlPath);
  const etag = `"${cached.hash}"`;
  const modifiedMs = Math.floor(item.stats.mtimeMs / 1000) * 1000;
  const lastModified = new Date(modifiedMs).toUTCString();
  const varies = cached.br !== null || cached.gzip !== null;
  // Header order is the wire order: the common ones first, then the site's own.
  const common: OutgoingHttpHeaders = {
    'content-type': type,
    etag,
    'last-modified': lastModified,
    'cache-control': defaultCacheControl(urlPath, type),
    'accept-ranges': 'bytes',
    'x-content-type-options': 'nosniff',
  };
  if (varies) common.vary = 'Accept-Encoding';
  if (options.node !== null) common[NODE_HEADER] = options.node;
  Object.assign(common, headersFor(urlPath, options.rules));
  const withLength = (length: number, encoding: string | null): HeaderList => {
    const headers: OutgoingHttpHeaders = { ...common, 'content-length': length };
    if (encoding !== null) headers['content-encoding'] = encoding;
    return toHeaderList(headers);
  };
  const notModified: OutgoingHttpHeaders = { ...common };
  delete notModified['content-type'];
  return {
    kind: 'file',
    urlPath,
    stamp,
    source: cached,
    file: item.file,
    size: item.stats.size,
    etag,
    lastModified,
    modifiedMs,
    identity: { body: cached.body, headers: withLength(item.stats.size, null) },
    br: cached.br ? { body: cached.br, headers: withLength(cached.br.length, 'br') } : null,
    gzip: cached.gzip
      ? { body: cached.gzip, headers: withLength(cached.gzip.length, 'gzip') }
      : null,
    notModifiedHeaders: toHeaderList(notModified),
    partialHeaders: { ...common },
  };
}

/** The flat list of an object's headers, in its order, values as strings (arrays repeat the name). */
export function toHeaderList(headers: OutgoingHttpHeaders): HeaderList {
  const list: HeaderList = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) list.push(name, item);
    else list.push(name, String(value));
  }
  return list;
}
