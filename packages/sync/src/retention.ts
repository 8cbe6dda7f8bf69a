import type { NodeTransport } from '@owncdn/core';
import { readNodeReleases } from './node-state.js';
import type { ReleaseEntry } from './node-state.js';
import { completeMarker, releaseDir } from './release.js';

/**
 * Removes all but the newest `keep` complete releases on a node, never the
 * current or previous one, and leftovers of interrupted uploads. Returns the
 * ids removed.
 */
export async function pruneReleases(
  transport: NodeTransport,
  options: {
    keep: number;
    current: string;
    previous: string | null;
    releases?: readonly ReleaseEntry[];
  },
): Promise<string[]> {
  // The caller may pass what it listed before the push (plus the new release), saving a round trip.
  const releases = options.releases ?? (await readNodeReleases(transport)).releases;
  const complete = releases.filter((r) => r.complete).map((r) => r.id);
  const kept = new Set([
    ...complete.slice(-options.keep),
    options.current,
    ...(options.previous ? [options.previous] : []),
  ]);
  const doomed = releases.filter((r) => !kept.has(r.id)).map((r) => r.id);
  if (doomed.length === 0) return [];
  // The marker goes first: a release without one is never switched to, even if removing its tree is interrupted.
  await transport.remove(doomed.map(completeMarker));
  await transport.remove(doomed.map(releaseDir));
  return doomed;
}
