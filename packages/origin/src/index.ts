import type { Config, Logger } from '@owncdn/core';
import type { OriginAddress } from './serve.js';
import { resolveSettings } from './settings.js';
import type { OriginOptions } from './settings.js';

export type { OriginOptions } from './settings.js';
export type { OriginAddress } from './serve.js';
export { parseRange } from './respond.js';
export { lookupKey } from './lookup.js';

export interface OriginContext {
  readonly log: Logger;
  /** Aborting it closes the origin (drains, then stops). */
  readonly signal?: AbortSignal;
  /** Re-reads owncdn.yaml on reload() (SIGHUP); without it reload() re-reads the site and certificates only. */
  readonly loadConfig?: () => Promise<Config>;
}

/** A running origin (STYLE.md §1). */
export interface RunningOrigin {
  readonly address: OriginAddress;
  /** Re-reads the release and certificates, and the config when the context can load it. Failures keep the old state. */
  reload(): Promise<void>;
  /** Stops accepting, drains in-flight requests (up to origin.drainTimeout) and stops every worker. */
  close(): Promise<void>;
}

/**
 * Starts the edge server: node mode (`{ config, node }`, serving
 * `<root>/current` on the node's ports, HTTPS with its certificates) or
 * standalone (`{ dir, listen }`). With more than one worker it forks
 * node:cluster workers sharing the sockets. Logs `origin listening` once.
 * Throws OWNCDN_USAGE, OWNCDN_NODE_UNKNOWN, OWNCDN_ORIGIN_LISTEN_FAILED or
 * OWNCDN_ORIGIN_NO_RELEASE.
 */
export async function startOrigin(
  options: OriginOptions,
  context: OriginContext,
): Promise<RunningOrigin> {
  const { log, signal } = context;
  const settings = resolveSettings(options);
  let service: {
    address: OriginAddress;
    reload: RunningOrigin['reload'] & ((s?: typeof settings) => Promise<void>);
    close(): Promise<void>;
  };
  let release: string | null;
  if (settings.workers > 1) {
    // Loaded on demand: a cluster primary serves nothing, so it never loads the
    // serving code (mime's database, chokidar…), ~30 MB less resident memory.
    const { startCluster } = await import('./cluster.js');
    const clustered = await startCluster(settings, log);
    service = clustered;
    release = clustered.release;
  } else {
    const { startServing } = await import('./serve.js');
    const serving = await startServing(settings, log);
    service = serving;
    release = serving.state.release;
  }
  const { address } = service;
  log.info(
    {
      node: settings.node,
      http: address.http[0] ?? null,
      https: address.https[0] ?? null,
      release,
      workers: settings.workers,
      admin: address.admin,
      dir: settings.siteDir,
    },
    'origin listening',
  );
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => (closing ??= service.close());
  if (signal) {
    if (signal.aborted) await close();
    else signal.addEventListener('abort', () => void close(), { once: true });
  }
  return {
    address,
    reload: async () => {
      const config = context.loadConfig ? await context.loadConfig() : undefined;
      await service.reload(config ? resolveSettings({ ...options, config }) : undefined);
    },
    close,
  };
}
