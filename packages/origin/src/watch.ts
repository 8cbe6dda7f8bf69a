import { readlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { watch } from 'chokidar';
import { NODE_LAYOUT } from '@owncdn/core';
import type { Logger } from '@owncdn/core';
import type { Settings } from './settings.js';

export interface Watcher {
  close(): Promise<void>;
}

export interface WatchOptions {
  readonly depth?: number;
  /** Paths to leave out (checked on every path chokidar sees). */
  readonly ignored?: (path: string) => boolean;
  /** Quiet time after the last event before `onSettled` runs (coalesces bursts such as an rsync). */
  readonly settleMs: number;
  /** Called once per burst with every path that changed in it. */
  readonly onSettled: (paths: ReadonlySet<string>) => void;
  readonly log: Logger;
}

/**
 * Watches `path` with chokidar (symlinks not followed: a flipped link is an
 * event on the link itself) and resolves once the initial scan is done, so
 * no change after it is missed.
 */
export async function watchTree(path: string, options: WatchOptions): Promise<Watcher> {
  const watcher = watch(path, {
    ignoreInitial: true,
    followSymlinks: false,
    depth: options.depth,
    // `atomic` would hold unlink events back 100 ms to pair them with a re-add.
    atomic: false,
    ignored: options.ignored,
  });
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  watcher.on('all', (_event, changed) => {
    pending.add(changed);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const paths = pending;
      pending = new Set();
      options.onSettled(paths);
    }, options.settleMs);
  });
  watcher.on('error', (error) => {
    // Watching is best effort: reload() and SIGHUP still work if the watcher fails.
    options.log.warn({ err: error, path }, 'file watcher error');
  });
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    close: async () => {
      clearTimeout(timer);
      await watcher.close();
    },
  };
}

/**
 * Watches what a serving process reloads from: in node mode `<root>` two
 * levels deep (the `current` link and `certs/`, not `releases/`, `trees/` nor
 * the ACME files), in --dir mode the whole directory. With cluster workers only the
 * primary runs this and passes each burst on (one set of watches, not one
 * per worker: chokidar holds ~10 KB per watched file).
 */
export async function watchServed(
  settings: Settings,
  log: Logger,
  onSettled: (paths: ReadonlySet<string>) => void,
): Promise<Watcher> {
  const root = settings.root;
  if (root === null) {
    return watchTree(settings.siteDir, { settleMs: settings.settleMs, log, onSettled });
  }
  const skip = [
    join(root, NODE_LAYOUT.releases),
    join(root, NODE_LAYOUT.trees),
    join(root, NODE_LAYOUT.acmeChallenge),
    join(root, NODE_LAYOUT.acmeThumbprint),
  ];
  const watcher = await watchTree(root, {
    depth: 2,
    ignored: (path) => skip.some((s) => path === s || path.startsWith(s + sep)),
    settleMs: settings.settleMs,
    log,
    onSettled,
  });
  const poll = pollLink(join(root, NODE_LAYOUT.current), onSettled);
  return {
    close: async () => {
      poll.stop();
      await watcher.close();
    },
  };
}

/**
 * How often `current` is read besides chokidar's events: two switches in
 * quick succession (a push, then a rollback) can reach chokidar as one event
 * for the first only, leaving origin on the middle release (tested:
 * test/recycled-tree.test.ts). One readlink a second settles it.
 */
const CURRENT_POLL_MS = 1_000;

/** Reports `link` as changed whenever its target differs from the last one read. */
function pollLink(link: string, onSettled: (paths: ReadonlySet<string>) => void): { stop(): void } {
  let last: Promise<string | null> = readlink(link).catch(() => null);
  const timer = setInterval(() => {
    last = last.then(async (before) => {
      const now = await readlink(link).catch(() => null);
      if (now !== before) onSettled(new Set([link]));
      return now;
    });
  }, CURRENT_POLL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
