import { NODE_LAYOUT, isOwncdnError } from '@owncdn/core';
import type { Logger, NodeConfig, NodeTransport } from '@owncdn/core';
import { RELEASE_ID } from './release.js';
import type { SyncFailure } from './events.js';

export interface ReleaseEntry {
  readonly id: string;
  /** True once the whole release is on the node (its `.complete` marker exists). */
  readonly complete: boolean;
}

export interface NodeReleases {
  /** The release `current` points at, or null when there is none (or it points elsewhere). */
  readonly current: string | null;
  /** Releases on the node, oldest first. */
  readonly releases: readonly ReleaseEntry[];
}

/** `releases/<id>` (as stored in the `current` link) → `<id>`. */
export function releaseOfLink(target: string | null): string | null {
  if (target === null) return null;
  const match = /^(?:\.\/)?releases\/([^/]+)\/?$/.exec(target);
  return match?.[1] ?? null;
}

/**
 * Reads `current` and `releases/` on a node: two rsync calls at once (behind
 * an rrsync that locks, the transport retries the second for a moment).
 */
export async function readNodeReleases(transport: NodeTransport): Promise<NodeReleases> {
  const [link, listed] = await Promise.all([
    transport.readLink(NODE_LAYOUT.current),
    transport.list(NODE_LAYOUT.releases),
  ]);
  const current = releaseOfLink(link);
  const entries = listed ?? [];
  const names = new Set(entries.map((e) => e.name));
  const releases = entries
    .filter((e) => e.type === 'dir' && RELEASE_ID.test(e.name))
    .map((e) => ({ id: e.name, complete: names.has(`${e.name}.complete`) }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { current, releases };
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
