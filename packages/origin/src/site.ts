import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readFile, readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { OutgoingHttpHeaders } from 'node:http';
import mime from 'mime';
import { NODE_HEADER } from '@owncdn/core';
import type { Logger } from '@owncdn/core';
import { compressBrotli, compressGzip, isCompressible } from './encoding.js';
import { defaultCacheControl, headersFor } from './headers.js';
import type { CompiledRules } from './headers.js';

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
  readonly identity: { readonly body: Buffer | null; readonly headers: OutgoingHttpHeaders };
  /** Compressed variants, present only when smaller. */
  readonly br: Variant | null;
  readonly gzip: Variant | null;
  /** Headers of a 304, and of a 206 (no length: added per range). */
  readonly notModifiedHeaders: OutgoingHttpHeaders;
  readonly partialHeaders: OutgoingHttpHeaders;
}

/** A URL that redirects (a directory without or with its slash). `location` has no query. */
export interface Redirect {
  readonly kind: 'redirect';
  readonly location: string;
}

export type Route = Entry | Redirect;

/** A compressed representation and its final headers. */
export interface Variant {
  readonly body: Buffer;
  readonly headers: OutgoingHttpHeaders;
}

/** An immutable snapshot of a served directory, swapped whole on reload. */
export interface Site {
  /** Real path of the served directory (the release directory in node mode). */
  readonly dir: string;
  readonly routes: ReadonlyMap<string, Route>;
  /** Every file, in no particular order. */
  readonly entries: readonly Entry[];
  /** Some path reaches its file through a symlink: a change may show under several names. */
  readonly hasLinks: boolean;
  /** `/404.html` of the site, served with status 404, or null. */
  readonly notFound: Entry | null;
  readonly files: number;
  /** Bytes held in memory: bodies and compressed variants. */
  readonly bytes: number;
  /** Reuse cache for the next build: unchanged files are not read or compressed again. */
  readonly cache: ReadonlyMap<string, CachedFile>;
}

/** What a build reuses for a file whose identity (device, inode, size, times) did not change. */
export interface CachedFile {
  readonly body: Buffer | null;
  readonly hash: string;
  readonly br: Buffer | null;
  readonly gzip: Buffer | null;
}

export interface BuildOptions {
  readonly maxMemoryFileBytes: number;
  readonly trailingSlash: 'add' | 'remove';
  readonly rules: CompiledRules;
  /** Node name for the x-owncdn-node header, or null. */
  readonly node: string | null;
  readonly log: Logger;
}

interface Found {
  readonly urlPath: string;
  readonly file: string;
  readonly stats: Stats;
}

/** Files read at once while loading: enough to keep the disk busy, well under any fd limit. */
const READ_CONCURRENCY = 8;

/**
 * Reads a directory into a Site: every file hashed, compressed and given its
 * final headers. Dotfiles (except `.well-known`) and symlinks leading out of
 * the directory are left out. `previous` lets unchanged files be reused.
 * Throws when `dir` cannot be read.
 */
export async function buildSite(
  dir: string,
  options: BuildOptions,
  previous: Site | null,
): Promise<Site> {
  const root = await realpath(dir);
  const found: Found[] = [];
  await walk(root, root, '', found, new Set([root]), options.log);
  const oldCache = previous?.cache ?? new Map<string, CachedFile>();
  const cache = new Map<string, CachedFile>();
  const entries: Entry[] = new Array<Entry>(found.length);
  const byPath = new Map(found.map((f) => [f.urlPath, f]));
  const siblings: SiblingLookup = (urlPath) => {
    const f = byPath.get(urlPath);
    return f && { file: f.file, size: f.stats.size };
  };
  let next = 0;
  const work = async (): Promise<void> => {
    while (next < found.length) {
      const index = next++;
      const item = found[index];
      if (item === undefined) continue;
      // A new `.br`/`.gz` sibling changes the variants, so their stamps are part of the key.
      const br = byPath.get(`${item.urlPath}.br`);
      const gz = byPath.get(`${item.urlPath}.gz`);
      const key = `${identity(item.stats)}|${br ? identity(br.stats) : ''}|${gz ? identity(gz.stats) : ''}`;
      let cached = oldCache.get(key) ?? cache.get(key);
      if (cached === undefined) cached = await loadFile(item, siblings, options.maxMemoryFileBytes);
      cache.set(key, cached);
      entries[index] = makeEntry(item, key, cached, options);
    }
  };
  await Promise.all(Array.from({ length: READ_CONCURRENCY }, work));
  const hasLinks = found.some((f) => f.file !== join(root, ...f.urlPath.split('/')));
  return assemble(root, entries, options.trailingSlash, hasLinks);
}

/** Finds a precompressed sibling (`/a.css.br`) of a file being loaded. */
type SiblingLookup = (
  urlPath: string,
) => { readonly file: string; readonly size: number } | undefined;

/** Above this many changed paths a full rebuild is as cheap and simpler. */
const INCREMENTAL_MAX_PATHS = 64;

/**
 * Applies file events (absolute paths under `watchedDir`) to a snapshot:
 * only the changed files are read. Returns null when the change needs a
 * full build instead (a directory or symlink changed, the site has
 * symlinks, a precompressed sibling changed, a path that is not a known file
 * vanished, many paths).
 */
export async function updateSite(
  previous: Site,
  watchedDir: string,
  changed: ReadonlySet<string>,
  options: BuildOptions,
): Promise<Site | null> {
  if (changed.size > INCREMENTAL_MAX_PATHS || previous.hasLinks) return null;
  const byPath = new Map(previous.entries.map((e) => [e.urlPath, e]));
  const siblings: SiblingLookup = (urlPath) => {
    const e = byPath.get(urlPath);
    return e && { file: e.file, size: e.size };
  };
  for (const path of changed) {
    const rel = relative(watchedDir, path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return null;
    const parts = rel.split(sep);
    const urlPath = `/${parts.join('/')}`;
    // Never served anyway (see walk): nothing to update.
    if (
      parts.some(
        (p, i) => (p.startsWith('.') && !(i === 0 && p === '.well-known')) || p.includes('\\'),
      )
    )
      continue;
    if (urlPath.endsWith('.br') || urlPath.endsWith('.gz')) return null;
    let stats: Stats;
    try {
      stats = await lstat(path);
    } catch (error) {
      if (!isMissing(error)) throw error;
      if (byPath.delete(urlPath)) continue;
      return null;
    }
    if (!stats.isFile()) return null;
    const item: Found = { urlPath, file: join(previous.dir, ...parts), stats };
    // Siblings did not change here (that takes a full build), so their stamps are as before.
    const key = `${identity(stats)}|${ownStamp(byPath.get(`${urlPath}.br`))}|${ownStamp(byPath.get(`${urlPath}.gz`))}`;
    const cached =
      previous.cache.get(key) ?? (await loadFile(item, siblings, options.maxMemoryFileBytes));
    byPath.set(urlPath, makeEntry(item, key, cached, options));
  }
  return assemble(previous.dir, [...byPath.values()], options.trailingSlash, false);
}

/** The file's own part of an entry's stamp (without its siblings'), as buildSite keys siblings. */
function ownStamp(entry: Entry | undefined): string {
  return entry ? (entry.stamp.split('|')[0] ?? '') : '';
}

function isMissing(error: unknown): boolean {
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function identity(s: Stats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root + sep);
}

async function walk(
  root: string,
  dir: string,
  prefix: string,
  out: Found[],
  seen: Set<string>,
  log: Logger,
): Promise<void> {
  const names = await readdir(dir, { withFileTypes: true });
  for (const dirent of names) {
    const name = dirent.name;
    // Dotfiles (.git, .env, editor files) are never served; RFC 8615's .well-known at the top is.
    if (name.startsWith('.') && !(prefix === '' && name === '.well-known')) continue;
    // A backslash would let `\..\` spellings reach the lookup; no real site needs one in a name.
    if (name.includes('\\')) continue;
    const path = join(dir, name);
    const urlPath = `${prefix}/${name}`;
    let real = path;
    let stats: Stats;
    if (dirent.isSymbolicLink()) {
      try {
        real = await realpath(path);
      } catch (error) {
        log.debug({ path, err: error }, 'dangling symlink skipped');
        continue;
      }
      if (!isInside(root, real)) {
        log.warn({ path, target: real }, 'symlink leads out of the served directory: not served');
        continue;
      }
      stats = await stat(real);
    } else {
      stats = await lstat(path);
    }
    if (stats.isDirectory()) {
      if (seen.has(real)) continue;
      seen.add(real);
      await walk(root, real, urlPath, out, seen, log);
    } else if (stats.isFile()) {
      out.push({ urlPath, file: real, stats });
    }
  }
}

async function loadFile(
  item: Found,
  siblings: SiblingLookup,
  maxMemoryFileBytes: number,
): Promise<CachedFile> {
  if (item.stats.size > maxMemoryFileBytes)
    return { body: null, hash: await hashFile(item.file), br: null, gzip: null };
  const body = await readFile(item.file);
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 22);
  const type = contentType(item.urlPath);
  if (!isCompressible(type) || body.length === 0) return { body, hash, br: null, gzip: null };
  // Variants made at publish time (`name.br`, `name.gz`) win: they may use the highest settings.
  const brFile = siblings(`${item.urlPath}.br`);
  const gzFile = siblings(`${item.urlPath}.gz`);
  const [br, gzip] = await Promise.all([
    brFile && brFile.size <= maxMemoryFileBytes ? readFile(brFile.file) : compressBrotli(body),
    gzFile && gzFile.size <= maxMemoryFileBytes ? readFile(gzFile.file) : compressGzip(body),
  ]);
  // A variant that is not smaller is never served.
  return {
    body,
    hash,
    br: br.length < body.length ? br : null,
    gzip: gzip.length < body.length ? gzip : null,
  };
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('base64url').slice(0, 22)));
  });
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

function makeEntry(item: Found, stamp: string, cached: CachedFile, options: BuildOptions): Entry {
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
  const withLength = (length: number, encoding: string | null): OutgoingHttpHeaders => {
    const headers: OutgoingHttpHeaders = { ...common, 'content-length': length };
    if (encoding !== null) headers['content-encoding'] = encoding;
    return headers;
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
    notModifiedHeaders: notModified,
    partialHeaders: { ...common },
  };
}

/**
 * Builds the route table: each file under its path, `.html` files also
 * without the extension, `dir/index.html` under `dir/` (trailingSlash add) or
 * `dir` (remove) with the other spelling redirecting. An exact file wins over
 * a clean URL, which wins over a directory redirect.
 */
function assemble(
  root: string,
  entries: readonly Entry[],
  trailingSlash: 'add' | 'remove',
  hasLinks: boolean,
): Site {
  const cache = new Map<string, CachedFile>();
  for (const entry of entries) cache.set(entry.stamp, entry.source);
  const routes = new Map<string, Route>();
  let bytes = 0;
  for (const entry of entries) {
    routes.set(entry.urlPath, entry);
    bytes +=
      (entry.identity.body?.length ?? 0) +
      (entry.br?.body.length ?? 0) +
      (entry.gzip?.body.length ?? 0);
  }
  const setIfFree = (path: string, route: Route): void => {
    if (!routes.has(path)) routes.set(path, route);
  };
  for (const entry of entries) {
    const path = entry.urlPath;
    if (path.endsWith('/index.html')) {
      const dirSlash = path.slice(0, -'index.html'.length);
      const dirBare = dirSlash.slice(0, -1);
      if (dirBare === '') {
        routes.set('/', entry);
      } else if (trailingSlash === 'add') {
        routes.set(dirSlash, entry);
        setIfFree(dirBare, { kind: 'redirect', location: dirSlash });
      } else {
        setIfFree(dirBare, entry);
        routes.set(dirSlash, { kind: 'redirect', location: dirBare });
      }
    }
  }
  for (const entry of entries) {
    const path = entry.urlPath;
    if (path.endsWith('.html') && !path.endsWith('/index.html')) {
      const clean = path.slice(0, -'.html'.length);
      const existing = routes.get(clean);
      // `/about.html` beats the redirect of an `about/` directory.
      if (existing === undefined || existing.kind === 'redirect') routes.set(clean, entry);
    }
  }
  const notFound = routes.get('/404.html');
  return {
    dir: root,
    routes,
    entries,
    hasLinks,
    notFound: notFound?.kind === 'file' ? notFound : null,
    files: entries.length,
    bytes,
    cache,
  };
}
