import { access, realpath } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NODE_LAYOUT, OwncdnError } from '@owncdn/core/runtime';
import type { Logger } from '@owncdn/core';
import { createAccessLog } from './access-log.js';
import type { AccessLog } from './access-log.js';
import { createCounters } from './counters.js';
import type { Counters } from './counters.js';
import { createHandler } from './handler.js';
import type { ServingState } from './handler.js';
import { compileRules } from './headers.js';
import { bindAll, closeListeners, createPlainServer } from './listeners.js';
import type { Listener } from './listeners.js';
import { releaseId } from './release-id.js';
import type { Settings } from './settings.js';
import { buildSite, updateSite } from './site.js';
import type { Certificate } from './tls.js';
import type { Watcher } from './watch.js';

/** Where an origin listens, as `ip:port` strings (`[v6]:port` for IPv6). */
export interface OriginAddress {
  readonly http: readonly string[];
  readonly https: readonly string[];
  readonly admin: string | null;
}

/** One serving process: the listeners, the site snapshot and the watchers. */
export interface ServingOrigin {
  readonly address: OriginAddress;
  readonly state: ServingState;
  /** Re-reads the release and certificates (and applies `settings` when given). Never throws: failures keep the old state. */
  reload(settings?: Settings): Promise<void>;
  /** Reloads what a burst of file events (absolute paths) touched, as this process's own watcher would. */
  applyChanges(paths: ReadonlySet<string>): void;
  close(): Promise<void>;
}

export interface ServingHooks {
  /** Sums counters across cluster workers for /metrics (default: this process's). */
  readonly gatherCounters?: (local: Counters) => Promise<Counters>;
  /** Watch the served files here (default true); a cluster's workers get the primary's bursts through applyChanges(). */
  readonly watch?: boolean;
}

/** Names plain HTTP may redirect to: the site's names and the certificates' (wildcards left out). */
function redirectHostsFor(
  names: readonly string[],
  certificates: readonly Certificate[],
): Set<string> {
  return new Set([
    ...names,
    ...certificates.flatMap((c) => c.names.filter((n) => !n.startsWith('*.'))),
  ]);
}

/**
 * Starts serving in this process: loads the site and certificates, binds
 * every listener, then watches for new releases, files and certificates.
 * Throws OWNCDN_ORIGIN_LISTEN_FAILED or OWNCDN_ORIGIN_NO_RELEASE (a node root
 * that does not exist); a missing release only makes /healthz say 503.
 */
export async function startServing(
  initial: Settings,
  log: Logger,
  hooks: ServingHooks = {},
): Promise<ServingOrigin> {
  const counters = createCounters();
  const gather = hooks.gatherCounters;
  const state: ServingState = {
    settings: initial,
    site: null,
    release: null,
    certificates: [],
    redirectHosts: new Set(initial.names),
    httpsPort: null,
    counters,
    startedMs: Date.now(),
    gatherCounters: gather ? () => gather(counters) : () => Promise.resolve(counters),
    log,
  };
  let rules = compileRules(initial.origin.headers);
  const root = initial.root;
  if (root !== null) {
    try {
      await access(root);
    } catch (error) {
      throw new OwncdnError(
        'OWNCDN_ORIGIN_NO_RELEASE',
        `node ${String(initial.node)}: its root ${root} does not exist (create it, or run \`owncdn sync push\` first)`,
        { cause: error },
      );
    }
  }
  const tlsListeners: Listener[] = [];

  /** `changed`: file events in --dir mode, applied incrementally when they allow it. */
  const loadRelease = async (force: boolean, changed?: ReadonlySet<string>): Promise<void> => {
    const settings = state.settings;
    let real: string;
    try {
      real = await realpath(settings.siteDir);
    } catch (error) {
      if (state.site === null)
        log.warn(
          { node: settings.node, dir: settings.siteDir },
          'no release yet: /healthz answers 503',
        );
      else
        log.warn(
          { node: settings.node, dir: settings.siteDir, err: error },
          'served directory vanished: still serving the loaded release',
        );
      return;
    }
    // A recycled tree (sync reuses old ones) can hold a new release under the same path: compare ids too.
    const release =
      settings.mode === 'node'
        ? await releaseId(settings.siteDir, real)
        : basename(settings.siteDir);
    if (!force && state.site?.dir === real && state.release === release) return;
    const started = performance.now();
    try {
      const options = {
        maxMemoryFileBytes: settings.origin.maxMemoryFileBytes,
        trailingSlash: settings.origin.trailingSlash,
        rules,
        node: settings.node,
        log,
      };
      const previous = state.site;
      const site =
        (changed && previous?.dir === real
          ? await updateSite(previous, settings.siteDir, changed, options)
          : null) ?? (await buildSite(real, options, previous));
      // One synchronous swap: a request sees the old snapshot or the new one, never a mix.
      state.site = site;
      state.release = release;
      counters.reloads++;
      log.info(
        {
          node: settings.node,
          release,
          files: site.files,
          bytes: site.bytes,
          ms: Math.round(performance.now() - started),
        },
        'release activated',
      );
    } catch (error) {
      counters.reloadFailures++;
      log.error(
        { node: settings.node, dir: real, err: error },
        state.site ? 'release load failed: still serving the previous one' : 'release load failed',
      );
    }
  };

  const loadCerts = async (): Promise<void> => {
    if (root === null) return;
    const settings = state.settings;
    try {
      // Only node mode has certificates: --dir never loads node:tls.
      const { loadCertificates } = await import('./tls.js');
      const certificates = await loadCertificates(
        join(root, NODE_LAYOUT.certs),
        settings.certificateOrder,
        state.certificates,
        log,
      );
      const same =
        certificates.length === state.certificates.length &&
        certificates.every((c, i) => c === state.certificates[i]);
      if (same) return;
      state.certificates = certificates;
      state.redirectHosts = redirectHostsFor(settings.names, certificates);
      const first = certificates[0];
      // Clients without SNI get the default context; SNI picks per handshake from state.
      if (first)
        for (const l of tlsListeners)
          if ('setSecureContext' in l.server)
            l.server.setSecureContext({ cert: first.cert, key: first.key });
      counters.certificateReloads++;
      log.info(
        {
          node: settings.node,
          certificates: certificates.map((c) => ({
            name: c.name,
            names: c.names,
            notAfter: c.notAfter,
            serial: c.serial,
          })),
        },
        'certificates loaded',
      );
    } catch (error) {
      log.error(
        { node: settings.node, err: error },
        'certificates unreadable: keeping the loaded ones',
      );
    }
  };

  // Loads run one after another; a burst of events queues at most one more.
  let chain: Promise<void> = Promise.resolve();
  let dirty: Set<string> | null = null;
  const enqueue = (task: () => Promise<void>): Promise<void> => {
    chain = chain.then(task).catch((error: unknown) => {
      // Loads log their own failures; this only keeps one bug from stopping every later load.
      log.error({ err: error }, 'reload task failed');
    });
    return chain;
  };

  /** One settled burst of file events (absolute paths), from this process's watcher or the primary's. */
  const applyChanges = (paths: ReadonlySet<string>): void => {
    if (root !== null) {
      const certsDir = join(root, NODE_LAYOUT.certs);
      if (paths.has(join(root, NODE_LAYOUT.current))) void enqueue(() => loadRelease(false));
      if ([...paths].some((p) => p === certsDir || p.startsWith(certsDir + sep)))
        void enqueue(loadCerts);
      return;
    }
    // Paths from bursts that arrive while a load waits its turn join that load.
    const first = dirty === null;
    dirty ??= new Set();
    for (const path of paths) dirty.add(path);
    if (first) {
      void enqueue(() => {
        const changed = dirty ?? undefined;
        dirty = null;
        return loadRelease(true, changed);
      });
    }
  };

  await loadRelease(true);
  await loadCerts();

  const watchers: Watcher[] = [];
  const listeners: Listener[] = [];
  const adminListeners: Listener[] = [];
  const accessLog: AccessLog | null = createAccessLog(initial.origin, initial.node);
  try {
    if (hooks.watch !== false) {
      // Loaded on demand: cluster workers leave watching to the primary and never load chokidar.
      const { watchServed } = await import('./watch.js');
      watchers.push(await watchServed(initial, log, applyChanges));
    }
    const wrap = accessLog === null ? <T>(h: T): T => h : accessLog.wrap;
    const plain = wrap(createHandler(state, 'plain'));
    listeners.push(
      ...(await bindAll(
        initial.http,
        () => createPlainServer(initial.origin, plain, initial.node),
        'HTTP',
        log,
      )),
    );
    if (initial.https !== null) {
      const secure = wrap(createHandler(state, 'secure'));
      // Loaded on demand, as in loadCerts: without HTTPS, node:http2 and node:tls stay unloaded.
      const [{ createTlsServer }, { pickCertificate }] = await Promise.all([
        import('./tls-server.js'),
        import('./tls.js'),
      ]);
      const pick = (servername: string) => pickCertificate(state.certificates, servername)?.context;
      const bound = await bindAll(
        initial.https,
        () => createTlsServer(initial.origin, secure, pick),
        'HTTPS',
        log,
      );
      tlsListeners.push(...bound);
      const port = bound[0]?.server.address();
      state.httpsPort = typeof port === 'object' && port !== null ? port.port : null;
      const first = state.certificates[0];
      if (first)
        for (const l of bound)
          if ('setSecureContext' in l.server)
            l.server.setSecureContext({ cert: first.cert, key: first.key });
    }
    if (initial.admin !== null) {
      const admin = createHandler(state, 'admin');
      adminListeners.push(
        ...(await bindAll(
          initial.admin,
          () => createPlainServer(initial.origin, admin, initial.node),
          'admin',
          log,
        )),
      );
    }
  } catch (error) {
    await Promise.all(watchers.map((w) => w.close()));
    await closeListeners([...listeners, ...tlsListeners, ...adminListeners], 0);
    await accessLog?.close();
    throw error;
  }

  const address: OriginAddress = {
    http: listeners.map((l) => l.address),
    https: tlsListeners.map((l) => l.address),
    admin: adminListeners[0]?.address ?? null,
  };
  let closing: Promise<void> | null = null;
  return {
    address,
    state,
    applyChanges,
    reload: async (settings) => {
      if (settings) {
        const before = JSON.stringify([
          state.settings.http,
          state.settings.https,
          state.settings.admin,
        ]);
        if (JSON.stringify([settings.http, settings.https, settings.admin]) !== before) {
          log.warn({ node: settings.node }, 'listen addresses changed: they apply after a restart');
        }
        state.settings = {
          ...settings,
          http: state.settings.http,
          https: state.settings.https,
          admin: state.settings.admin,
        };
        rules = compileRules(settings.origin.headers);
        state.redirectHosts = redirectHostsFor(settings.names, state.certificates);
      }
      await enqueue(() => loadRelease(settings !== undefined || state.settings.mode === 'dir'));
      await enqueue(loadCerts);
    },
    close: () =>
      (closing ??= (async () => {
        await Promise.all(watchers.map((w) => w.close()));
        await closeListeners(
          [...listeners, ...tlsListeners, ...adminListeners],
          state.settings.origin.drainTimeoutMs,
        );
        await chain;
        await accessLog?.close();
      })()),
  };
}
