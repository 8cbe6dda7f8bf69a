import { lstat, realpath } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { Logger } from '@owncdn/core';
import { identity, makeEntry } from './entry.js';
import type { CachedFile, Entry, EntryOptions, Found, SiblingLookup } from './entry.js';
import type { CompiledRules } from './headers.js';
import { loadFile } from './loader.js';
import { walk } from './walk.js';

/** A URL that redirects (a directory without or with its slash). `location` has no query. */
export interface Redirect {
  readonly kind: 'redirect';
  readonly location: string;
}

export type Route = Entry | Redirect;

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

export interface BuildOptions extends EntryOptions {
  readonly trailingSlash: 'add' | 'remove';
  readonly rules: CompiledRules;
  readonly log: Logger;
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
