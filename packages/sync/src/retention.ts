import type { NodeTransport } from '@owncdn/core';
import { readNodeReleases, treeDir, unusedTrees } from './node-state.js';
import type { ReleaseEntry } from './node-state.js';
import { completeMarker, releaseDir } from './release.js';

/** Spare trees kept for the next push to upload into (the rest are removed). */
const SPARE_TREES = 1;

/**
 * Removes all but the newest `keep` complete releases on a node, never the
 * current or previous one. A removed release's tree becomes a spare that the
 * next push uploads into (only the changes travel, no tree is rebuilt); spares
 * beyond one, and legacy release directories, are deleted. Returns the ids
 * removed.
 */
export async function pruneReleases(
  transport: NodeTransport,
  options: {
    keep: number;
    current: string;
    previous: string | null;
    /** What the caller listed (plus what it added), saving a round trip. */
    state?: { readonly releases: readonly ReleaseEntry[]; readonly trees: readonly string[] };
  },
): Promise<string[]> {
  const state = options.state ?? (await readNodeReleases(transport));
  const { releases } = state;
  const complete = releases.filter((r) => r.complete).map((r) => r.id);
  const kept = new Set([
    ...complete.slice(-options.keep),
    options.current,
    ...(options.previous ? [options.previous] : []),
  ]);
  const doomed = releases.filter((r) => !kept.has(r.id));
  const legacy = doomed.filter((r) => r.dir === releaseDir(r.id));
  if (doomed.length > 0) {
    // Links and markers go first: a release without one is never switched to,
    // even if removing its tree is interrupted.
    await transport.remove([
      ...doomed.filter((r) => !legacy.includes(r)).map((r) => releaseDir(r.id)),
      ...legacy.map((r) => completeMarker(r.id)),
    ]);
  }
  const spares = unusedTrees(
    state.trees,
    releases.filter((r) => kept.has(r.id)),
  ).map(treeDir);
  const surplus = [...legacy.map((r) => r.dir), ...spares.slice(0, -SPARE_TREES)];
  if (surplus.length > 0) await transport.remove(surplus);
  return doomed.map((r) => r.id);
}
