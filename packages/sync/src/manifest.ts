import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@owncdn/core';
import { shortHash } from './release.js';
import type { SourceSummary } from './site-hash.js';

// What a release holds, as this machine published it: every entry's kind
// (`-` file, `d` directory, `l` symlink), symlink target and file digest,
// kept per content hash beside the digest cache. A push that updates the tree
// of an old release in place (see upload-plan.ts) sends rsync only the names
// that differ from that release's manifest, so neither side walks the other
// 20,000 files — as git only sends the objects the other side lacks.

/** `[kind, name, target, digest]`: kind `-`, `d` or `l`; digest only for files. */
export type ManifestRow = readonly [string, string, string, string];

/** Every entry of a release, in name order (as the site listing sorts). */
export type Manifest = readonly ManifestRow[];

/** Version of the file format; another one is not used (the upload walks the whole tree). */
const FORMAT = 1;

/**
 * The manifests of one site, beside its digest cache: `sync-manifests-<key>/`
 * for the default `sync-digests-<key>.json`, else `<file>.manifests/`.
 */
export function manifestDir(digestCacheFile: string): string {
  const standard = /sync-digests-([0-9a-f]+)\.json$/;
  return standard.test(digestCacheFile)
    ? digestCacheFile.replace(standard, 'sync-manifests-$1')
    : `${digestCacheFile}.manifests`;
}

function manifestFile(dir: string, hash12: string): string {
  return join(dir, `${hash12}.json`);
}

/** The release's manifest, or null when this machine has none (or it is damaged, or for other content). */
export async function loadManifest(dir: string, hash: string): Promise<Manifest | null> {
  try {
    const parsed = JSON.parse(await readFile(manifestFile(dir, shortHash(hash)), 'utf8')) as {
      format?: unknown;
      hash?: unknown;
      entries?: unknown;
    };
    if (parsed.format !== FORMAT || typeof parsed.hash !== 'string') return null;
    if (!parsed.hash.startsWith(hash) || !Array.isArray(parsed.entries)) return null;
    const rows = parsed.entries as unknown[];
    let last = '';
    for (const row of rows) {
      if (!Array.isArray(row) || row.length !== 4 || !row.every((v) => typeof v === 'string'))
        return null;
      // In strict name order, or the diff below could not walk it.
      if (rows[0] !== row && !(last < (row[1] as string))) return null;
      last = row[1] as string;
    }
    return rows as ManifestRow[];
  } catch {
    return null; // none yet (published elsewhere, or before manifests), or unreadable
  }
}

/** Records what `summary` publishes (mode 0600, written atomically); best effort like the digest cache. */
export async function saveManifest(dir: string, summary: SourceSummary): Promise<void> {
  const listing = summary.listing;
  if (listing === null) return; // the site changed while it was listed: no trustworthy record
  const entries: ManifestRow[] = listing.names.map((n) => [
    n.kind,
    n.name,
    n.target,
    n.kind === '-' ? (summary.fileDigests.get(n.name)?.digest ?? '') : '',
  ]);
  if (entries.some(([kind, , , digest]) => kind === '-' && digest === '')) return;
  try {
    await writeFileAtomic(
      manifestFile(dir, shortHash(summary.hash)),
      `${JSON.stringify({ format: FORMAT, hash: summary.hash, entries })}\n`,
      { mode: 0o600, mkdir: true, durable: false }, // a cache: see AtomicWriteOptions.durable
    );
  } catch {
    // A read-only or full cache only costs later pushes a walk of the whole tree.
  }
}

/** Removes the record of one release (it may not match what the nodes received). */
export async function dropManifest(dir: string, hash: string): Promise<void> {
  await rm(manifestFile(dir, shortHash(hash)), { force: true }).catch(() => undefined);
}

/** Removes manifests of releases no node keeps any more (`keep`: content hashes, 12 hex digits). */
export async function pruneManifests(dir: string, keep: ReadonlySet<string>): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => /^[0-9a-f]{12}\.json$/.test(n) && !keep.has(n.slice(0, 12)))
      .map((n) => rm(join(dir, n), { force: true }).catch(() => undefined)),
  );
}

/** What to send and remove to turn a tree holding `before` into `summary`'s content. */
export interface Delta {
  /** New or changed names, parents before children. */
  readonly send: string[];
  /** Names gone since (only the topmost of a removed directory). */
  readonly remove: string[];
}

/**
 * The names that differ between a release's manifest and the site about to be
 * published: both lists are in name order, so one walk down both compares
 * them (no map of 20,000 names). Null when the site's listing is unknown.
 */
export function diffManifest(before: Manifest, summary: SourceSummary): Delta | null {
  const listing = summary.listing;
  if (listing === null) return null;
  const now = listing.names;
  const send: string[] = [];
  const gone: string[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < now.length) {
    const old = before[i];
    const entry = now[j];
    if (entry !== undefined && (old === undefined || entry.name < old[1])) {
      send.push(entry.name); // new
      j++;
    } else if (old !== undefined && (entry === undefined || old[1] < entry.name)) {
      gone.push(old[1]);
      i++;
    } else if (old !== undefined && entry !== undefined) {
      const digest = entry.kind === '-' ? summary.fileDigests.get(entry.name)?.digest : '';
      if (digest === undefined) return null;
      if (old[0] !== entry.kind || old[2] !== entry.target || old[3] !== digest)
        send.push(entry.name);
      i++;
      j++;
    }
  }
  // Only the topmost of what is gone: a name whose parent is gone too, or is
  // no longer a directory (replaced, so rsync removes it with its contents), goes with it.
  const remove: string[] = [];
  if (gone.length > 0) {
    const kinds = new Map(now.map((e) => [e.name, e.kind]));
    const removed = new Set<string>();
    for (const name of gone) {
      const slash = name.lastIndexOf('/');
      const parent = slash < 0 ? null : name.slice(0, slash);
      removed.add(name);
      if (parent !== null && (removed.has(parent) || kinds.get(parent) !== 'd')) continue;
      remove.push(name);
    }
  }
  return { send, remove };
}
