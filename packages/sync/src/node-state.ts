import { NODE_LAYOUT, isOwncdnError } from '@owncdn/core';
import type { Logger, NodeConfig, NodeTransport } from '@owncdn/core';
import { RELEASE_ID } from './release.js';
import type { SyncFailure } from './events.js';

export interface ReleaseEntry {
  readonly id: string;
  /** True once the whole release is on the node (its link, or a legacy `.complete` marker, exists). */
  readonly complete: boolean;
  /** Where its files are, relative to the root: `trees/<n>`, or `releases/<id>` (legacy layout). */
  readonly dir: string;
}

export interface NodeReleases {
  /** The release `current` points at, or null when there is none (or it points elsewhere). */
  readonly current: string | null;
  /** Releases on the node, oldest first. */
  readonly releases: readonly ReleaseEntry[];
  /** Every tree name in `trees/`, numeric order. */
  readonly trees: readonly string[];
}

/** `releases/<id>` (as stored in the `current` link) → `<id>`. */
export function releaseOfLink(target: string | null): string | null {
  if (target === null) return null;
  const match = /^(?:\.\/)?releases\/([^/]+)\/?$/.exec(target);
  return match?.[1] ?? null;
}

/** `../trees/<n>` (as stored in a `releases/<id>` link) → `<n>`. */
export function treeOfLink(target: string | undefined): string | null {
  const match = /^\.\.\/trees\/(\d+)\/?$/.exec(target ?? '');
  return match?.[1] ?? null;
}

/** `trees/<n>`, relative to a node's root. */
export function treeDir(tree: string): string {
  return `${NODE_LAYOUT.trees}/${tree}`;
}

/** The target a `releases/<id>` link stores for tree `<n>`. */
export function treeLinkTarget(tree: string): string {
  return `../${NODE_LAYOUT.trees}/${tree}`;
}

/** Releases in id order, which is time order (RELEASE_ID), as NodeReleases holds them. */
export function byId(a: { readonly id: string }, b: { readonly id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Tree names (`<n>` of `trees/<n>`) in numeric order, as NodeReleases holds them. */
export function byTreeNumber(a: string, b: string): number {
  return Number(a) - Number(b);
}

/** Reads `current`, `releases/` and `trees/` on a node (one rsync call on a remote node). */
export async function readNodeReleases(transport: NodeTransport): Promise<NodeReleases> {
  const listed = await transport.listDirs(['', NODE_LAYOUT.releases, NODE_LAYOUT.trees]);
  const link = listed.get('')?.find((e) => e.name === NODE_LAYOUT.current);
  const current = releaseOfLink(link?.type === 'symlink' ? (link.target ?? null) : null);
  const entries = listed.get(NODE_LAYOUT.releases) ?? [];
  const treeEntries = listed.get(NODE_LAYOUT.trees);
  const names = new Set(entries.map((e) => e.name));
  const releases: ReleaseEntry[] = [];
  for (const e of entries) {
    if (!RELEASE_ID.test(e.name)) continue;
    if (e.type === 'symlink') {
      const tree = treeOfLink(e.target);
      if (tree === null) continue; // not one of ours: left alone
      releases.push({ id: e.name, complete: true, dir: treeDir(tree) });
    } else if (e.type === 'dir') {
      releases.push({
        id: e.name,
        complete: names.has(`${e.name}.complete`),
        dir: `${NODE_LAYOUT.releases}/${e.name}`,
      });
    }
  }
  releases.sort(byId);
  const trees = (treeEntries ?? [])
    .filter((e) => e.type === 'dir' && /^\d+$/.test(e.name))
    .map((e) => e.name)
    .sort(byTreeNumber);
  return { current, releases, trees };
}

/** Trees (`<n>`) none of `releases` lives in: spares for an upload, newest last. */
export function unusedTrees(trees: readonly string[], releases: readonly ReleaseEntry[]): string[] {
  const used = new Set(releases.map((r) => r.dir));
  return trees.filter((tree) => !used.has(treeDir(tree)));
}

/** An error as a result field; anything that is not an OwncdnError is a bug and is rethrown. */
export function toFailure(error: unknown): SyncFailure {
  if (isOwncdnError(error)) return { code: error.code, message: error.message };
  throw error;
}

/** Closes every node's connection; a failure to close is logged, never thrown (the push's outcome stands). */
export async function closeTransports(
  sessions: readonly { readonly node: NodeConfig; readonly transport: NodeTransport }[],
  log: Logger,
): Promise<void> {
  await Promise.all(
    sessions.map((s) =>
      s.transport
        .close()
        .catch((e: unknown) =>
          log.warn({ node: s.node.name, err: e }, 'closing the connection failed'),
        ),
    ),
  );
}
