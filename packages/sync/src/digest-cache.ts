import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@owncdn/core';
import type { FileStamp } from './site-file.js';

export interface CachedDigest extends FileStamp {
  readonly digest: string;
}

/** Version of the file format; a different one is ignored (everything is listed and hashed). */
const FORMAT = 5;

/**
 * The cache file holds one row per listed name, in listing order: a file as
 * `['-', name, '', size, ino, mtimeMs, ctimeMs, digest]` (digest `''` when
 * not to be trusted: written in the last moments), a directory as
 * `['d', name, '']`, a symlink as `['l', name, target]`; directories' stamps
 * as `[name, ino, mtimeMs, ctimeMs]`. Arrays, not objects, and each name once:
 * 20,000 files load in ~25 ms; plain numbers, no BigInt.
 */
type FileRow = [string, string, string, number, number, number, number, string];
type NameRow = [string, string, string];
type DirRow = [string, number, number, number];

/** What rsync listed: kind (`-`, `d`, `l`), name, symlink target. */
export interface ListedName {
  readonly kind: string;
  readonly name: string;
  readonly target: string;
}

/** A directory of the site and its stamp (`.` is the site itself). */
export interface DirStamp {
  readonly name: string;
  readonly ino: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/** What the last push of a site left: digests by stamp, and the listing while no directory changes. */
export interface SiteCache {
  readonly files: ReadonlyMap<string, CachedDigest>;
  readonly listing: {
    readonly filters: readonly string[];
    readonly savedAtMs: number;
    readonly names: readonly ListedName[];
    readonly dirs: readonly DirStamp[];
  } | null;
}

export const EMPTY_CACHE: SiteCache = { files: new Map(), listing: null };

/**
 * Entries whose ctime is this close to the moment the cache is written are
 * not trusted: a write in the same clock tick would leave the stamp unchanged
 * (git's "racily clean" entries).
 */
export const RACY_MS = 100;

/** Where the digests of `source` are kept: `$XDG_CACHE_HOME/owncdn/` (or `~/.cache/owncdn/`). */
export function digestCacheFile(source: string): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  return join(base, 'owncdn', `sync-digests-${key}.json`);
}

/** True when `ctimeMs` is at least RACY_MS older than `nowMs`. */
function settled(ctimeMs: number, nowMs: number): boolean {
  return ctimeMs < nowMs - RACY_MS;
}

/**
 * The last listing, if it still holds: same filters, and every directory
 * with the stamp it had (adding, removing or renaming anything in a directory
 * changes its mtime and ctime), none of them racy. Null otherwise.
 */
export function listingIfUnchanged(
  cache: SiteCache,
  filters: readonly string[],
  stampDir: (name: string) => DirStamp | null,
): readonly ListedName[] | null {
  const listing = cache.listing;
  if (listing === null || JSON.stringify(listing.filters) !== JSON.stringify(filters)) return null;
  for (const dir of listing.dirs) {
    const now = stampDir(dir.name);
    if (
      now === null ||
      now.ino !== dir.ino ||
      now.mtimeMs !== dir.mtimeMs ||
      now.ctimeMs !== dir.ctimeMs ||
      !settled(now.ctimeMs, listing.savedAtMs)
    )
      return null;
  }
  return listing.names;
}

const isNumber = (v: unknown): v is number => typeof v === 'number';
const isString = (v: unknown): v is string => typeof v === 'string';

function readDirs(raw: unknown): DirStamp[] | null {
  if (!Array.isArray(raw)) return null;
  const stamps: DirStamp[] = [];
  for (const row of raw as unknown[]) {
    if (!Array.isArray(row) || row.length !== 4 || !isString(row[0])) return null;
    const [name, ino, mtimeMs, ctimeMs] = row as DirRow;
    if (!isNumber(ino) || !isNumber(mtimeMs) || !isNumber(ctimeMs)) return null;
    stamps.push({ name, ino, mtimeMs, ctimeMs });
  }
  return stamps;
}

/** What the last push of this source left; empty when there is nothing or it cannot be read. */
export async function loadDigests(file: string): Promise<SiteCache> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<{
      format: number;
      rows: unknown[];
      listing: Partial<{ filters: unknown; savedAtMs: unknown; dirs: unknown }> | null;
    }>;
    if (parsed.format !== FORMAT || !Array.isArray(parsed.rows)) return EMPTY_CACHE;
    const files = new Map<string, CachedDigest>();
    const names: ListedName[] = [];
    let whole = true; // every row readable: the listing may be reused
    for (const row of parsed.rows) {
      if (!Array.isArray(row) || !isString(row[0]) || !isString(row[1]) || !isString(row[2])) {
        whole = false;
        continue;
      }
      const [kind, name, target] = row as NameRow;
      names.push({ kind, name, target });
      if (kind !== '-') continue;
      const [, , , size, ino, mtimeMs, ctimeMs, digest] = row as FileRow;
      if (row.length === 8 && isString(digest) && digest !== '')
        files.set(name, { size, ino, mtimeMs, ctimeMs, digest });
    }
    const raw = parsed.listing;
    const dirs = readDirs(raw?.dirs);
    const filters = raw?.filters;
    const listing =
      whole &&
      dirs !== null &&
      Array.isArray(filters) &&
      filters.every(isString) &&
      isNumber(raw?.savedAtMs)
        ? { filters, savedAtMs: raw.savedAtMs, names, dirs }
        : null;
    return { files, listing };
  } catch {
    return EMPTY_CACHE; // no cache yet, or a damaged one: everything is listed and hashed
  }
}

/**
 * Saves digests (and the listing) for the next push, atomically; a cache that
 * cannot be written only costs the next push a full read, so failures are
 * ignored.
 */
export async function saveDigests(
  file: string,
  entries: ReadonlyMap<string, CachedDigest>,
  listing: {
    filters: readonly string[];
    names: readonly ListedName[];
    dirs: readonly DirStamp[];
  } | null = null,
  nowMs = Date.now(),
): Promise<void> {
  const fileRow = (name: string, e: CachedDigest): FileRow => [
    '-',
    name,
    '',
    e.size,
    e.ino,
    e.mtimeMs,
    e.ctimeMs,
    settled(e.ctimeMs, nowMs) ? e.digest : '',
  ];
  const rows: (FileRow | NameRow)[] = [];
  if (listing === null) {
    for (const [name, e] of entries) rows.push(fileRow(name, e));
  } else {
    for (const n of listing.names) {
      const e = n.kind === '-' ? entries.get(n.name) : undefined;
      rows.push(e === undefined ? [n.kind, n.name, n.target] : fileRow(n.name, e));
    }
  }
  const saved =
    listing === null
      ? null
      : {
          filters: listing.filters,
          savedAtMs: nowMs,
          dirs: listing.dirs.map((d): DirRow => [d.name, d.ino, d.mtimeMs, d.ctimeMs]),
        };
  try {
    await writeFileAtomic(file, `${JSON.stringify({ format: FORMAT, rows, listing: saved })}\n`, {
      mode: 0o600,
      mkdir: true,
      durable: false, // a cache: see AtomicWriteOptions.durable
    });
  } catch {
    // Best effort (read-only home, full disk): the next push hashes everything again.
  }
}
