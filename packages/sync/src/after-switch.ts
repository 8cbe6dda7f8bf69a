// One switched node's last part of a push: confirm through its origin's
// /healthz that the release is served, prune old releases, close its
// connection (push.ts runs every node's at once).
import type { Config, Logger } from '@owncdn/core';
import type { NodeState, SyncEvent } from './events.js';
import { confirmRelease } from './health.js';
import type { HealthClient } from './health.js';
import { byId, byTreeNumber, closeTransports, toFailure, treeDir } from './node-state.js';
import type { ReleaseEntry } from './node-state.js';
import type { PushSession } from './node-upload.js';
import { pruneReleases } from './retention.js';

/** What every switched node's confirmation and pruning share. */
export interface AfterSwitchContext {
  readonly config: Config;
  readonly agent: HealthClient;
  readonly keep: number;
  readonly confirmTimeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly log: Logger;
  readonly emit: (event: SyncEvent) => void;
  readonly setState: (s: PushSession, state: NodeState, message?: string) => void;
}

/**
 * Confirms that `s`'s origin serves `release` (no origin answering only
 * warns), then prunes its old releases and closes its connection, while
 * other nodes are still asked. Records the outcome in `s.result`.
 */
export async function confirmAndPrune(
  ctx: AfterSwitchContext,
  s: PushSession,
  release: string,
): Promise<void> {
  const { emit, setState } = ctx;
  const answer = await confirmRelease(ctx.agent, ctx.config, s.node, release, {
    timeoutMs: ctx.confirmTimeoutMs,
    signal: ctx.signal,
  });
  s.result = { ...s.result, confirmation: answer.status };
  if (answer.status === 'confirmed') setState(s, 'confirmed');
  else if (answer.status === 'no-origin') {
    emit({
      type: 'warning',
      node: s.node.name,
      message: `no origin answered on ${s.node.name} (${answer.error}); the release is switched but not confirmed`,
    });
    ctx.log.warn({ node: s.node.name, error: answer.error }, 'no origin answered');
  } else
    setState(
      s,
      'unconfirmed',
      `origin on ${s.node.name} still serves ${answer.served ?? 'no release'}`,
    );
  try {
    const pruned = await pruneReleases(s.transport, {
      state: stateAfterSwitch(s, release),
      keep: ctx.keep,
      current: release,
      previous: s.result.previous,
    });
    // A release retired to reuse its tree was removed by this push too.
    s.result = { ...s.result, pruned: [...(s.retired ? [s.retired] : []), ...pruned] };
  } catch (e) {
    // Retention is housekeeping: the release is live, so a failed prune only warns.
    emit({
      type: 'warning',
      node: s.node.name,
      message: `pruning old releases on ${s.node.name} failed: ${toFailure(e).message}`,
    });
  }
  await closeTransports([s], ctx.log);
}

/** What `s` holds once `release` is live: the releases read before the push, less the retired one, plus the new one and its tree. */
function stateAfterSwitch(s: PushSession, release: string) {
  const have = s.releases;
  const known = (have?.releases ?? []).filter((r) => r.id !== release && r.id !== s.retired);
  const added: ReleaseEntry[] =
    s.tree === null ? [] : [{ id: release, complete: true, dir: treeDir(s.tree) }];
  const trees = new Set([...(have?.trees ?? []), ...(s.tree === null ? [] : [s.tree])]);
  return { releases: [...known, ...added].sort(byId), trees: [...trees].sort(byTreeNumber) };
}
