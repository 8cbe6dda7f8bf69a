import { NODE_LAYOUT } from '@owncdn/core';

/** `20261123T105900Z-0123456789ab`: UTC time of the push, then the content hash (sorts by time). */
export const RELEASE_ID = /^(\d{8}T\d{6}Z)-([0-9a-f]{12})$/;

/** Hex digits of the content hash kept in a release id: 48 bits, no collision among one site's releases. */
const HASH_LENGTH = 12;

/** Builds a release id from the push time and the content hash. */
export function makeReleaseId(date: Date, hash: string): string {
  const stamp = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${shortHash(hash)}`;
}

/** The part of a content hash a release id keeps (and its manifest is named by). */
export function shortHash(hash: string): string {
  return hash.slice(0, HASH_LENGTH);
}

/** The push time in a release id (ms since the epoch), or null when `id` is not one. */
export function releaseTimeMs(id: string): number | null {
  const stamp = RELEASE_ID.exec(id)?.[1];
  const m = stamp && /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(stamp);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  return Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0);
}

/**
 * The time for a new release id: `now`, or one second after the newest
 * release a node holds when that is not earlier. Ids sort by time to the
 * second, and "previous" (rollback, retention) is the one sorting before; two
 * pushes within one second, or a laptop whose clock is behind the last one's,
 * would otherwise sort by hash or into the past.
 */
export function releaseTime(now: Date, existing: readonly string[]): Date {
  const newest = Math.max(-Infinity, ...existing.map((id) => releaseTimeMs(id) ?? -Infinity));
  return newest >= now.getTime() - 999 ? new Date(newest + 1000) : now;
}

/** The content-hash part of a release id, or null when `id` is not one. */
export function releaseHash(id: string): string | null {
  return RELEASE_ID.exec(id)?.[2] ?? null;
}

/** `releases/<id>`, relative to a node's root. */
export function releaseDir(id: string): string {
  return `${NODE_LAYOUT.releases}/${id}`;
}

/** The marker written once a release is whole on a node: only complete releases may be switched to. */
export function completeMarker(id: string): string {
  return `${NODE_LAYOUT.releases}/${id}.complete`;
}

/**
 * The id for a release of content `hash` (full hex): the newest complete one
 * a node already holds with this content (publishing the same site again, or
 * again after a partial push), else a new one never earlier than any held.
 */
export function chooseRelease(
  hash: string,
  held: readonly { readonly id: string; readonly complete: boolean }[],
  now: Date,
): { readonly id: string; readonly reused: boolean } {
  const short = shortHash(hash);
  const reused = held
    .filter((r) => r.complete && releaseHash(r.id) === short)
    .sort((a, b) => (a.id < b.id ? 1 : -1))[0]?.id;
  if (reused !== undefined) return { id: reused, reused: true };
  return {
    id: makeReleaseId(
      releaseTime(
        now,
        held.map((r) => r.id),
      ),
      hash,
    ),
    reused: false,
  };
}
