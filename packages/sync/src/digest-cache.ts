import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@owncdn/core';

/**
 * What a file looked like when it was hashed: size, inode, mtime and ctime
 * (ms, as fs.Stats gives them: sub-microsecond fractions). Any write changes
 * ctime, which no one but the kernel sets, so a file whose stamp is unchanged
 * still has the digest — git's index works the same way. A push then reads
 * only new and changed files.
 */
export interface FileStamp {
  readonly size: number;
  readonly ino: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

export interface CachedDigest extends FileStamp {
  readonly digest: string;
}

/** Version of the file format; a different one is ignored (everything is listed and hashed). */
const FORMAT = 4;

/**
 * One file in the cache file: `[name, size, ino, mtimeMs, ctimeMs, digest]`;
 * the listing is `[kind, name, target]` rows and directories
 * `[name, ino, mtimeMs, ctimeMs]`. Arrays, not objects: no repeated keys to
 * parse (20,000 files load in ~30 ms), and plain numbers, no BigInt.
 */
type Row = [string, number, number, number, number, string];
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
const RACY_MS = 100;

/** Where the digests of `source` are kept: `$XDG_CACHE_HOME/owncdn/` (or `~/.cache/owncdn/`). */
export function digestCacheFile(source: string): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  return join(base, 'owncdn', `sync-digests-${key}.json`);
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
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

function readListing(raw: unknown): SiteCache['listing'] {
  if (typeof raw !== 'object' || raw === null) return null;
  const { filters, savedAtMs, names, dirs } = raw as Record<string, unknown>;
  if (!Array.isArray(filters) || !filters.every(isString) || !isNumber(savedAtMs)) return null;
  if (!Array.isArray(names) || !Array.isArray(dirs)) return null;
  const listed: ListedName[] = [];
  for (const row of names as unknown[]) {
    if (!Array.isArray(row) || row.length !== 3 || !row.every(isString)) return null;
    const [kind, name, target] = row as NameRow;
    listed.push({ kind, name, target });
  }
  const stamps: DirStamp[] = [];
  for (const row of dirs as unknown[]) {
    if (!Array.isArray(row) || row.length !== 4 || !isString(row[0])) return null;
    const [name, ino, mtimeMs, ctimeMs] = row as DirRow;
    if (!isNumber(ino) || !isNumber(mtimeMs) || !isNumber(ctimeMs)) return null;
    stamps.push({ name, ino, mtimeMs, ctimeMs });
  }
  return { filters, savedAtMs, names: listed, dirs: stamps };
}

/** What the last push of this source left; empty when there is nothing or it cannot be read. */
export async function loadDigests(file: string): Promise<SiteCache> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<{
      format: number;
      files: unknown[];
      listing: unknown;
    }>;
    if (parsed.format !== FORMAT || !Array.isArray(parsed.files)) return EMPTY_CACHE;
    const files = new Map<string, CachedDigest>();
    for (const row of parsed.files) {
      if (!Array.isArray(row) || row.length !== 6) continue;
      const [name, size, ino, mtimeMs, ctimeMs, digest] = row as Row;
      files.set(name, { size, ino, mtimeMs, ctimeMs, digest });
    }
    return { files, listing: readListing(parsed.listing) };
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
  const files: Row[] = [];
  for (const [name, e] of entries)
    if (settled(e.ctimeMs, nowMs))
      files.push([name, e.size, e.ino, e.mtimeMs, e.ctimeMs, e.digest]);
  const saved =
    listing === null
      ? null
      : {
          filters: listing.filters,
          savedAtMs: nowMs,
          names: listing.names.map((n): NameRow => [n.kind, n.name, n.target]),
          dirs: listing.dirs.map((d): DirRow => [d.name, d.ino, d.mtimeMs, d.ctimeMs]),
        };
  try {
    await writeFileAtomic(file, `${JSON.stringify({ format: FORMAT, files, listing: saved })}\n`, {
      mode: 0o600,
      mkdir: true,
    });
  } catch {
    // Best effort (read-only home, full disk): the next push hashes everything again.
  }
}
