import { watch } from 'chokidar';
import type { Logger } from '@owncdn/core';

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
