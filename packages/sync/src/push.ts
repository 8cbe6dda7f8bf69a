import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import {
  NODE_LAYOUT,
  OwncdnError,
  createSilentLogger,
  createTransport,
  selectNodes,
} from '@owncdn/core';
import type { Config } from '@owncdn/core';
import type { NodeState, SyncEvent, SyncFailure } from './events.js';
import { confirmAndPrune } from './after-switch.js';
import type { AfterSwitchContext } from './after-switch.js';
import { createHealthClient } from './health.js';
import { closeTransports, toFailure } from './node-state.js';
import { newSession, readNode, undoUnusedPlan, uploadTo } from './node-upload.js';
import type { PushSession, UploadContext } from './node-upload.js';
import { chooseRelease, releaseHash } from './release.js';
import { firstChangedSince, hashSource } from './site-hash.js';
import type { FileDigest, SourceSummary } from './site-hash.js';
import { checkSource, publishFilters } from './site-listing.js';
import { EMPTY_CACHE, RACY_MS, digestCacheFile, loadDigests, saveDigests } from './digest-cache.js';
import {
  dropManifest,
  loadManifest,
  manifestDir,
  pruneManifests,
  saveManifest,
} from './manifest.js';
import type { Manifest } from './manifest.js';
import type { PushOptions, PushResult } from './push-types.js';
import { prepareSwitch } from './switch.js';

/**
 * The digest cache is written this long after hashing ends, during the
 * uploads: a stamp younger than RACY_MS is not cached, and the files just
 * given their content time would all be that young. 20,000 files take
 * ~40 ms of CPU to write, which at the end of a push is 40 ms more to wait.
 */
const CACHE_AFTER_MS = RACY_MS + 20;

/**
 * Publishes `site.content` as a new release on every selected node: upload
 * in parallel into a tree `trees/<n>/` (a reused one, or a new one that
 * shares the current release's unchanged files by hard link; see
 * planUpload) named by `releases/<id>`, then,
 * only when every node holds the whole release (or `allowPartial`), switch
 * `current` everywhere at once, confirm through /healthz and prune old
 * releases. Resolves with a result whose `ok` is false
 * (and `error` set) when anything failed; throws only for bad options.
 */
export async function push(config: Config, options: PushOptions = {}): Promise<PushResult> {
  const started = performance.now();
  const log = options.log ?? createSilentLogger();
  const emit = (event: SyncEvent) => options.onEvent?.(event);
  const progress = options.onEvent !== undefined && options.progress !== false;
  const nodes = selectNodes(config, options.only);
  const source = options.content ? resolve(options.content) : config.site.content;
  const filters = publishFilters(config);
  const keep = options.keep ?? config.sync.keep;
  const dryRun = options.dryRun ?? false;
  if (!Number.isInteger(keep) || keep < 1)
    throw new OwncdnError('OWNCDN_USAGE', `keep must be a whole number ≥ 1 (got ${keep})`);

  // A dry run compares by checksum: it must not set mtimes in the source either.
  const detect = dryRun ? 'checksum' : (options.detect ?? 'content-mtime');
  await checkSource(source);
  const sessions: PushSession[] = nodes.map((node) =>
    newSession(node, createTransport(config, node, { log })),
  );
  const setState = (s: PushSession, state: NodeState, message?: string) => {
    s.state = state;
    emit({ type: 'state', node: s.node.name, state, ...(message ? { message } : {}) });
  };
  const fail = (s: PushSession, error: unknown) => {
    s.result = { ...s.result, error: toFailure(error) };
    setState(s, 'failed', s.result.error?.message);
    log.error({ node: s.node.name, err: s.result.error }, 'node failed');
  };
  let switchSkewMs: number | null = null;
  let error: SyncFailure | null = null;
  const agent = createHealthClient();
  let summary: SourceSummary = {
    hash: '',
    files: 0,
    bytes: 0,
    fileDigests: new Map(),
    listing: null,
  };
  let release = '';
  // Digests of the site's files by stamp, kept between pushes: unchanged files are not read again.
  const cacheFile = options.digestCache ?? digestCacheFile(source);
  let digests: ReadonlyMap<string, FileDigest> | null = null;
  // A dry run writes nothing, not even the cache.
  let savingCache: Promise<void> | null = null;
  let cacheTimer: NodeJS.Timeout | undefined;
  /** Writes the digest cache once: at the timer set when hashing ends, or when settling, whichever comes first. */
  const saveCache = (): Promise<void> => {
    clearTimeout(cacheTimer);
    savingCache ??= (async () => {
      if (digests !== null && !dryRun && cacheFile !== null)
        await saveDigests(cacheFile, digests, summary.listing);
    })();
    return savingCache;
  };
  // What each release published from here held, to send a reused tree only the differences.
  const manifests =
    cacheFile !== null && !dryRun && detect === 'content-mtime' ? manifestDir(cacheFile) : null;
  const loadingManifests = new Map<string, Promise<Manifest | null>>();
  const manifestOf = (id: string): Promise<Manifest | null> | null => {
    const hash = releaseHash(id);
    if (manifests === null || options.full || hash === null) return null;
    let loading = loadingManifests.get(hash);
    if (!loading) {
      loading = loadManifest(manifests, hash);
      loadingManifests.set(hash, loading);
    }
    return loading;
  };
  let uploaded = false;
  let settling: Promise<void> | null = null;
  /**
   * What this machine keeps for the next push: the digests, and the release's
   * manifest unless a file rsync may have read changed after it was hashed (a
   * later delta would trust a wrong record). The digests are written while
   * the nodes upload, once the content times just set are no longer racy
   * (CACHE_AFTER_MS after hashing); a push that ends sooner writes them here,
   * and files stamped a moment ago are then kept out of the cache as racy
   * (RACY_MS) and read again next time. The manifest waits for the uploads:
   * it needs every file's stamp checked after rsync read it (~50 ms for
   * 20,000 files, after the switch).
   */
  const settle = (): Promise<void> =>
    (settling ??= (async () => {
      await saveCache();
      if (manifests === null || !uploaded || digests === null) return;
      const touched = sessions.filter((s) => s.treeTouched);
      const read = touched.some((s) => s.delta === null)
        ? digests.keys()
        : touched.flatMap((s) => s.delta?.send ?? []);
      const changed = await firstChangedSince(source, digests, read);
      if (changed === null) return saveManifest(manifests, summary);
      log.warn({ file: changed }, 'the site changed during the push');
      await dropManifest(manifests, summary.hash);
    })());

  try {
    // 1. What each node has (its connection's first session lists it: a few
    // hundred ms per node) while the site is hashed here.
    const ctx: UploadContext = {
      source,
      filters,
      detect,
      dryRun,
      keep,
      signal: options.signal,
      bwlimitKiBps: options.bwlimitKiBps,
      progress,
      log,
      emit,
      setState,
      fail,
      manifestOf,
    };
    const reads = sessions.map((s) => ({ s, read: readNode(ctx, s) }));
    const reading = Promise.all(reads.map(({ read }) => read));
    // Digests of the last push load while the site is listed.
    const known = cacheFile === null ? EMPTY_CACHE : loadDigests(cacheFile);
    const hashing = hashSource(source, filters, {
      ...(options.signal ? { signal: options.signal } : {}),
      known,
      contentTimes: detect === 'content-mtime',
    }).then((hashed) => {
      summary = hashed;
      digests = hashed.fileDigests;
      cacheTimer = setTimeout(() => {
        saveCache().catch(() => undefined); // thrown by settle
      }, CACHE_AFTER_MS);
      cacheTimer.unref();
      return hashed;
    });
    hashing.catch(() => undefined); // thrown below, once every node was read

    // 2. The release id (chooseRelease), once the site is hashed and every node read.
    const naming = (async () => {
      const hashed = await hashing;
      await reading;
      const held = sessions.flatMap((s) => s.releases?.releases ?? []);
      const chosen = chooseRelease(hashed.hash, held, options.now ?? new Date());
      release = chosen.id;
      const built = { release, files: hashed.files, bytes: hashed.bytes, reused: chosen.reused };
      emit({ type: 'release', ...built });
      log.info(built, 'release built');
      return release;
    })();
    naming.catch(() => undefined); // the same failure as hashing's

    // 3. Upload everywhere at once: each node as soon as it is read and the
    // site hashed, without waiting for the slowest handshake.
    const uploading = Promise.all(
      reads.map(({ s, read }) => uploadTo(ctx, s, read, hashing, naming)),
    );
    try {
      await naming;
    } finally {
      await uploading;
    }
    uploaded = !dryRun;
    const failed = sessions.filter((s) => s.state === 'failed');
    const ready = sessions.filter((s) => s.state === 'uploaded');
    if (options.signal?.aborted)
      throw new OwncdnError(
        'OWNCDN_SYNC_PUSH_FAILED',
        `push of ${release} was interrupted; no node was switched (the live site is unchanged)`,
      );
    if (dryRun) return finish();
    if (failed.length > 0 && !options.allowPartial) {
      for (const s of ready) setState(s, 'not-switched');
      error = {
        code: 'OWNCDN_SYNC_PUSH_FAILED',
        message: `push of ${release} failed on ${failed.map((s) => s.node.name).join(', ')}; no node was switched (the live site is unchanged). ${failed.map((s) => s.result.error?.message).join(' ')}`,
      };
      return finish();
    }

    // 4. Switch: prepare everywhere, then flip everywhere at once.
    const byName = new Map(sessions.map((s) => [s.node.name, s]));
    const round = await prepareSwitch(
      ready.map((s) => ({ name: s.node.name, transport: s.transport, prepared: s.prepared })),
      release,
    );
    for (const s of sessions) s.prepared = null; // the round commits or cancels them now
    for (const [name, e] of round.unprepared) {
      const s = byName.get(name);
      if (s) fail(s, e);
    }
    if ((round.unprepared.size > 0 && !options.allowPartial) || options.signal?.aborted) {
      await round.cancel();
      for (const s of ready) if (s.state !== 'failed') setState(s, 'not-switched');
      error = {
        code: 'OWNCDN_SYNC_PUSH_FAILED',
        message: `switch to ${release} could not be prepared on ${[...round.unprepared.keys()].join(', ') || 'every node (interrupted)'}; no node was switched`,
      };
      return finish();
    }
    for (const s of ready) if (s.state !== 'failed') setState(s, 'switching');
    const outcome = await round.commit((name, e) => {
      const s = byName.get(name);
      if (!s) return;
      if (e !== undefined) return fail(s, e);
      s.result = { ...s.result, current: release };
      setState(s, 'switched');
    });
    switchSkewMs = outcome.skewMs;
    if (outcome.switchedAt.size > 0) {
      log.info(
        { release, nodes: [...outcome.switchedAt.keys()], switchSkewMs },
        'release activated',
      );
    }
    settle().catch(() => undefined); // awaited (and thrown) below

    // 5. Confirm through origin, then prune.
    const live = sessions.filter((s) => s.result.current === release);
    const after: AfterSwitchContext = {
      config,
      agent,
      keep,
      confirmTimeoutMs: options.confirmTimeoutMs ?? config.sync.confirmTimeoutMs,
      signal: options.signal,
      log,
      emit,
      setState,
    };
    await Promise.all(live.map((s) => confirmAndPrune(after, s, release)));

    const notSwitched = sessions.filter((s) => s.state === 'failed');
    const mismatched = live.filter((s) => s.result.confirmation === 'mismatch');
    if (notSwitched.length > 0) {
      error = {
        code: 'OWNCDN_SYNC_PUSH_FAILED',
        message: `${release} is live on ${live.map((s) => s.node.name).join(', ') || 'no node'} but failed on ${notSwitched.map((s) => s.node.name).join(', ')}. ${notSwitched.map((s) => s.result.error?.message).join(' ')}`,
      };
    } else if (mismatched.length > 0) {
      error = {
        code: 'OWNCDN_SYNC_NOT_CONFIRMED',
        message: `origin on ${mismatched.map((s) => s.node.name).join(', ')} did not report ${release} within ${options.confirmTimeoutMs ?? config.sync.confirmTimeoutMs} ms (is origin watching ${NODE_LAYOUT.current}?)`,
      };
    }
    return finish();
  } finally {
    // A tree this push never wrote into: its retired release put back, its copy removed.
    await Promise.all(
      sessions.map((s) =>
        undoUnusedPlan(s).catch((e: unknown) =>
          log.warn({ node: s.node.name, err: e }, 'could not undo an unused upload plan'),
        ),
      ),
    );
    // A push that stopped before its switch round leaves no rsync waiting on a node.
    await Promise.all(sessions.flatMap((s) => (s.prepared ? [s.prepared.cancel()] : [])));
    await settle();
    // Manifests of releases no node keeps any more go, once every node was read.
    if (
      manifests !== null &&
      nodes.length === config.nodes.length &&
      sessions.every((s) => s.releases !== null)
    ) {
      const kept = new Set(
        sessions.flatMap((s) =>
          (s.releases?.releases ?? [])
            .filter((r) => r.id !== s.retired)
            .flatMap((r) => releaseHash(r.id) ?? []),
        ),
      );
      const hash = releaseHash(release);
      if (hash !== null) kept.add(hash);
      await pruneManifests(manifests, kept);
    }
    await closeTransports(sessions, log);
    await agent.close();
  }

  function finish(): PushResult {
    const result: PushResult = {
      ok: error === null && sessions.every((s) => s.state !== 'failed'),
      release,
      dryRun,
      files: summary.files,
      bytes: summary.bytes,
      nodes: sessions.map((s) => ({
        node: s.node.name,
        label: s.transport.label,
        state: s.state,
        ...s.result,
      })),
      switchSkewMs,
      durationMs: Math.round(performance.now() - started),
      error: error ?? firstNodeError(),
    };
    return result;
  }

  function firstNodeError(): SyncFailure | null {
    const failed = sessions.filter((s) => s.state === 'failed');
    if (failed.length === 0) return null;
    return {
      code: 'OWNCDN_SYNC_PUSH_FAILED',
      message: `push of ${release} failed on ${failed.map((s) => s.node.name).join(', ')}. ${failed.map((s) => s.result.error?.message).join(' ')}`,
    };
  }
}
