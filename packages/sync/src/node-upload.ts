// One node's part of a push: reading what it holds, then its upload, its
// `releases/<id>` link and its prepared switch (push.ts runs every node's
// at once and does the switch round).
import { lstatSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { NODE_LAYOUT, OwncdnError } from '@owncdn/core';
import type {
  Logger,
  NodeConfig,
  NodeTransport,
  PreparedSwitch,
  TransferProgress,
  TransferResult,
} from '@owncdn/core';
import type { NodeState, SyncEvent } from './events.js';
import { diffManifest } from './manifest.js';
import type { Delta, Manifest } from './manifest.js';
import { readNodeReleases, treeDir, treeLinkTarget } from './node-state.js';
import type { NodeReleases } from './node-state.js';
import type { PushNodeResult } from './push-types.js';
import { releaseDir, releaseHash, shortHash } from './release.js';
import type { SourceSummary } from './site-hash.js';
import { sitePrefix } from './site-listing.js';
import { planUpload } from './upload-plan.js';
import type { UploadPlan } from './upload-plan.js';

/** What a push knows and does about one node. */
export interface PushSession {
  readonly node: NodeConfig;
  readonly transport: NodeTransport;
  state: NodeState;
  releases: NodeReleases | null;
  /** The tree the release went into, once uploaded. */
  tree: string | null;
  /** Where this node's upload goes (planned as soon as its state is read). */
  plan: UploadPlan | null;
  /** Removing the release whose tree the plan reuses: started while the site is hashed (rejects when it failed). */
  retiring: Promise<void> | null;
  /** The hard-linked copy of the current release's tree the plan starts from: started as soon as the node is read (false: not made). */
  copying: Promise<boolean> | null;
  /** A release removed so that its tree could be reused. */
  retired: string | null;
  /** The recorded content of the release whose tree the plan reuses or copies (loaded while the site is hashed). */
  before: Promise<Manifest | null> | null;
  /** The names sent instead of a whole-tree comparison, when the upload was a delta. */
  delta: Delta | null;
  /** True once rsync may have written into the planned tree. */
  treeTouched: boolean;
  /** The switch of `current`, prepared as soon as this node's upload was done. */
  prepared: PreparedSwitch | null;
  result: Omit<PushNodeResult, 'node' | 'label' | 'state'>;
}

/** What every node's part of one push shares. */
export interface UploadContext {
  readonly source: string;
  readonly filters: readonly string[];
  readonly detect: 'content-mtime' | 'checksum';
  readonly dryRun: boolean;
  readonly keep: number;
  readonly signal: AbortSignal | undefined;
  readonly bwlimitKiBps: number | undefined;
  /** Emit `progress` events during uploads. */
  readonly progress: boolean;
  readonly log: Logger;
  readonly emit: (event: SyncEvent) => void;
  readonly setState: (s: PushSession, state: NodeState, message?: string) => void;
  /** Records the node's failure (never throws for an OwncdnError). */
  readonly fail: (s: PushSession, error: unknown) => void;
  /** The recorded manifest of a release published from here, or null when none may be used. */
  readonly manifestOf: (id: string) => Promise<Manifest | null> | null;
}

/** A node's session before anything is known about it. */
export function newSession(node: NodeConfig, transport: NodeTransport): PushSession {
  return {
    node,
    transport,
    state: 'connecting',
    releases: null,
    tree: null,
    plan: null,
    retiring: null,
    copying: null,
    retired: null,
    before: null,
    delta: null,
    treeTouched: false,
    prepared: null,
    result: {
      previous: null,
      current: null,
      filesTransferred: 0,
      filesTotal: 0,
      upload: 'none',
      bytesSent: 0,
      uploadMs: 0,
      confirmation: 'skipped',
      pruned: [],
      changes: [],
      error: null,
    },
  };
}

/**
 * What a node holds, and where its upload will go. Never rejects: a failure
 * is the node's. The release whose tree the plan reuses is retired now,
 * while the site is still being hashed (a round trip off the critical
 * path), and put back if this push turns out to need no upload.
 */
export async function readNode(ctx: UploadContext, s: PushSession): Promise<void> {
  ctx.setState(s, 'connecting');
  try {
    s.releases = await readNodeReleases(s.transport);
    s.result = { ...s.result, previous: s.releases.current, current: s.releases.current };
    s.plan = planUpload(s.releases, ctx.keep, ctx.dryRun);
    const retire = s.plan.retire;
    const copyFrom = s.plan.copyFrom;
    if (copyFrom !== null) {
      // While the site is hashed and slower nodes connect: ~0.2 s for 20,000 files.
      s.copying = s.transport.linkCopy(copyFrom, treeDir(s.plan.tree)).catch((error: unknown) => {
        // rsync then fills in what the copy left out (a cp without -l; a full disk it will report).
        ctx.log.debug({ node: s.node.name, err: error }, 'link copy failed; rsync builds the tree');
        return false;
      });
      if (s.releases.current !== null) s.before = ctx.manifestOf(s.releases.current);
    }
    if (retire) {
      s.before = ctx.manifestOf(retire.id);
      s.retiring = s.transport.remove([releaseDir(retire.id)]).then(() => {
        s.retired = retire.id;
      });
      s.retiring.catch(() => undefined); // thrown where the upload awaits it
    }
  } catch (e) {
    ctx.fail(s, e);
  }
}

/**
 * One node's upload, once it is read (`read`) and the site hashed: into the
 * planned tree, then its `releases/<id>` link (the id from `naming`), and
 * its switch prepared. Never rejects: a failure is the node's. A node that
 * already holds a release of this content waits for the id, and uploads
 * only if it is not that one.
 */
export async function uploadTo(
  ctx: UploadContext,
  s: PushSession,
  read: Promise<void>,
  hashing: Promise<SourceSummary>,
  naming: Promise<string>,
): Promise<void> {
  await read;
  const have = s.releases;
  const plan = s.plan;
  if (!have || !plan) return;
  let hashed: SourceSummary;
  try {
    hashed = await hashing;
  } catch {
    return; // the push fails with the hashing's error
  }
  const hash = shortHash(hashed.hash);
  if (have.releases.some((r) => r.complete && releaseHash(r.id) === hash)) {
    let id: string;
    try {
      id = await naming;
    } catch {
      return;
    }
    if (have.releases.some((r) => r.id === id && r.complete)) {
      try {
        await undoUnusedPlan(s);
      } catch (e) {
        ctx.fail(s, e);
        return;
      }
      ctx.setState(s, have.current === id ? 'unchanged' : 'uploaded');
      return;
    }
  }
  ctx.setState(s, 'uploading');
  const t0 = performance.now();
  try {
    await s.retiring;
    s.treeTouched = true;
    const { before, linkDest } = await prepareTree(s, plan);
    const delta = before === null ? null : diffManifest(before, hashed);
    s.delta = delta;
    const transferring = s.transport.syncDirectory(ctx.source, treeDir(plan.tree), {
      ...(delta === null ? {} : { only: delta }),
      checksum: ctx.detect === 'checksum',
      preserveTimes: ctx.detect === 'content-mtime',
      listChanges: ctx.dryRun, // only a dry run shows them
      delete: true,
      linkDest,
      filters: ctx.filters,
      dryRun: ctx.dryRun,
      signal: ctx.signal,
      ...(ctx.bwlimitKiBps ? { bwlimitKiBps: ctx.bwlimitKiBps } : {}),
      ...(ctx.progress
        ? {
            onProgress: (p: TransferProgress) =>
              ctx.emit({
                type: 'progress',
                node: s.node.name,
                bytes: p.bytes,
                percent: p.percent,
                bytesPerSecond: p.bytesPerSecond,
                files: p.files ?? 0,
              }),
          }
        : {}),
    });
    transferring.catch(() => undefined); // awaited below
    // Where a node takes overlapping calls, the release link and the switch
    // connect while the tree uploads: two round trips less after it (they
    // only wait meanwhile). The link is written only once the tree is whole
    // (it is the completion mark: only a whole tree is ever named by a
    // release), the switch only in the switch round, after every node's
    // link exists.
    let linkAhead: Promise<PreparedSwitch> | null = null;
    let switchAhead: Promise<PreparedSwitch> | null = null;
    let transfer: TransferResult;
    try {
      const id = await naming;
      if (!ctx.dryRun && s.transport.concurrent) {
        linkAhead = s.transport.prepareSwitchLink(releaseDir(id), treeLinkTarget(plan.tree));
        switchAhead = s.transport.prepareSwitchLink(NODE_LAYOUT.current, releaseDir(id));
        for (const p of [linkAhead, switchAhead]) p.catch(() => undefined); // thrown below, or cancelled
      }
      transfer = await transferring;
      if (delta !== null) checkUnchanged(ctx.source, delta);
      if (!ctx.dryRun) {
        if (linkAhead) await (await linkAhead).commit();
        else await s.transport.switchLink(releaseDir(id), treeLinkTarget(plan.tree));
        s.tree = plan.tree;
        // Ready to flip while slower nodes are still uploading.
        s.prepared = await (switchAhead ??
          s.transport.prepareSwitchLink(NODE_LAYOUT.current, releaseDir(id)));
      }
    } catch (error) {
      await transferring.catch(() => undefined); // no rsync left writing into the tree
      const waiting = [linkAhead, switchAhead].flatMap((p) => (p ? [p] : []));
      await Promise.all(waiting.map((p) => p.then((q) => q.cancel()).catch(() => undefined)));
      throw error;
    }
    s.result = {
      ...s.result,
      filesTransferred: transfer.filesTransferred,
      filesTotal: delta === null ? transfer.filesTotal : hashed.files,
      upload: delta === null ? 'full' : 'delta',
      bytesSent: transfer.bytesSent,
      uploadMs: Math.round(performance.now() - t0),
      changes: ctx.dryRun ? transfer.changes : [],
    };
    ctx.setState(s, 'uploaded');
  } catch (e) {
    ctx.fail(s, e);
  }
}

/**
 * What the planned tree holds before rsync updates it, as far as this
 * machine knows: a retired release's tree holds that release; a new tree
 * copied from the current release's with hard links (see planUpload) holds
 * that one. `before` null (not recorded here, or `--full`): rsync compares
 * every file. `linkDest` only where rsync builds the tree from nothing.
 */
async function prepareTree(
  s: PushSession,
  plan: UploadPlan,
): Promise<{ before: Manifest | null; linkDest: readonly string[] }> {
  if (s.copying === null)
    return {
      before: s.retired !== null && s.before ? await s.before : null,
      linkDest: plan.linkDest,
    };
  const copied = await s.copying;
  if (!copied) return { before: null, linkDest: plan.linkDest };
  return { before: s.before ? await s.before : null, linkDest: [] };
}

/**
 * A delta upload trusts that the site did not change since it was hashed: a
 * name to send that vanished would have become a deletion, one to remove that
 * came back would have been sent. Either way the tree is not the release.
 */
function checkUnchanged(dir: string, delta: Delta): void {
  const prefix = sitePrefix(dir);
  const vanished = delta.send.find(
    (n) => lstatSync(prefix + n, { throwIfNoEntry: false }) === undefined,
  );
  const back = delta.remove.find(
    (n) => lstatSync(prefix + n, { throwIfNoEntry: false }) !== undefined,
  );
  const name = vanished ?? back;
  if (name !== undefined)
    throw new OwncdnError(
      'OWNCDN_SYNC_PUSH_FAILED',
      `${dir} changed while it was pushed (${name} ${vanished === undefined ? 'came back' : 'vanished'}); no node was switched: push again`,
    );
}

/**
 * Undoes what readNode began for an upload that never wrote into its tree
 * (not needed, or the push stopped first): puts back the link of a release
 * retired for the tree, and removes a copy made for it. Waits for that copy
 * in any case, so no cp is left running on the node for a later push to meet.
 */
export async function undoUnusedPlan(s: PushSession): Promise<void> {
  await s.retiring?.catch(() => undefined); // a failed retirement removed nothing
  const copied = await s.copying; // never rejects
  if (s.treeTouched || !s.plan) return;
  if (s.retired !== null) {
    await s.transport.switchLink(releaseDir(s.retired), treeLinkTarget(s.plan.tree));
    s.retired = null;
  }
  if (copied) {
    await s.transport.remove([treeDir(s.plan.tree)]);
    s.copying = null;
  }
}
