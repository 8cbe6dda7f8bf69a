import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, isAbsolute } from 'node:path';
import { loadConfig } from '@owncdn/core';
import type { Config, Logger } from '@owncdn/core';
import { startApi } from './api.js';
import type { Api } from './api.js';
import { startWorkers, workerEntry } from './cluster.js';
import type { DnsBackend } from './cluster.js';
import { loadGeoTable } from './geo.js';
import { HealthChecker } from './health.js';
import type { HealthCheckerOptions } from './health.js';
import { renderMetrics, sumMetrics } from './metrics.js';
import { listenDns } from './server.js';
import { createServing } from './serving.js';
import type { ZoneMessage } from './serving.js';
import { checkChallengeName, TxtStore } from './txt.js';

export interface StartGeodnsOptions {
  readonly log: Logger;
  /** Aborting it closes the server. */
  readonly signal?: AbortSignal;
  /** DNS listen addresses (`host:port`, port 0 allowed); default dns.listen. */
  readonly listen?: readonly string[];
  /** API address; undefined = dns.api.listen, null = no API. */
  readonly apiListen?: string | null;
  /** Answering processes; default dns.workers (0 = one per core). Above 1 needs the compiled package. */
  readonly workers?: number;
  /** Test knob: probe timing instead of dns.health's. */
  readonly healthTiming?: HealthCheckerOptions['timing'];
  /** Test knob: watch the config and geo files (default true). */
  readonly watch?: boolean;
  /** Quiet time after the last file event before reloading, ms (gdnsd's STAT_RELOAD_WAIT). */
  readonly reloadQuietMs?: number;
  /** Test knob: the clock RRL counts with. */
  readonly now?: () => number;
}

export interface GeodnsAddress {
  /** Bound DNS addresses, UDP and TCP on each (`127.0.0.1:5353`). */
  readonly dns: readonly string[];
  /** Bound API address, or null when the API is off. */
  readonly api: string | null;
}

export interface RunningGeodns {
  readonly address: GeodnsAddress;
  /** Reloads owncdn.yaml (and the geo database); resolves false and keeps the old data when it is invalid. */
  reload(): Promise<boolean>;
  close(): Promise<void>;
}

/** Quiet time after a file event: editors write in several steps. */
const DEFAULT_RELOAD_QUIET_MS = 250;

/**
 * Starts the authoritative GeoDNS server for `config.site.domain`: DNS on
 * UDP and TCP, health probes, the API, and reloads on file changes. Resolves
 * once every socket listens and logs `geodns listening` once. Throws
 * OwncdnError OWNCDN_DNS_LISTEN_FAILED, OWNCDN_DNS_GEOIP_INVALID or
 * OWNCDN_DNS_API_FAILED.
 */
export async function startGeodns(
  config: Config,
  options: StartGeodnsOptions,
): Promise<RunningGeodns> {
  const { log } = options;
  let current = config;
  let serial = nextSerial(0);
  let reloads = 0;
  let reloadFailures = 0;
  let dns: DnsBackend | null = null;
  let closing: Promise<void> | null = null;

  const zone = (): ZoneMessage => ({
    config: current,
    up: [...health.serving()],
    txt: [...txt.entries()],
    serial,
  });
  let published: Promise<void> = Promise.resolve();
  /** A change arrived while the sockets were still being set up. */
  let changedDuringStart = false;
  /** Rebuilds the answers from the current state; the returned promise resolves once they are served. */
  const publish = (): Promise<void> => {
    serial = nextSerial(serial);
    const backend = dns;
    if (backend === null) {
      changedDuringStart = true;
      return published;
    }
    published = backend.apply(zone()).catch((error: unknown) => {
      log.error(
        { error: error instanceof Error ? error.message : String(error) },
        'could not rebuild the answers, still serving the previous ones',
      );
    });
    return published;
  };
  const txt = new TxtStore((name) => {
    // Logged once the answers no longer carry it.
    void publish().then(() => log.info({ name }, 'dns-01 txt value expired'));
  });
  const health = new HealthChecker(config, {
    // Logged once the answers reflect it: `node fr down: 3 probes failed: connect ECONNREFUSED`.
    onChange: ({ node, state, reason }) =>
      void publish().then(() =>
        log.info({ node, state, reason }, `node ${node} ${state}: ${reason}`),
      ),
    timing: options.healthTiming,
  });

  const cleanups: (() => Promise<void> | void)[] = [() => health.close(), () => txt.clear()];
  // Every caller (the abort signal, the CLI, a test) waits for the same, whole shutdown.
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    })());

  try {
    dns = await startDns(config, options, zone());
    const backend = dns;
    cleanups.push(() => backend.close());
    // Health probes start with the server: serve what they found while the sockets were bound.
    if (changedDuringStart) await publish();

    const apiListen = options.apiListen === undefined ? config.dns.api.listen : options.apiListen;
    let api: Api | null = null;
    if (apiListen !== null && config.dns.api.tokenFile === null) {
      log.warn(
        { listen: apiListen },
        'API not started: dns.api.tokenFile is not set (DNS-01 and node overrides need it)',
      );
    } else if (apiListen !== null && config.dns.api.tokenFile !== null) {
      api = await startApi(apiListen, config.dns.api.tokenFile, {
        nodes: () => health.status(),
        setOverride: async (name, override) => {
          const node = health.setOverride(name, override);
          if (node)
            log.info({ node: name, override }, `node ${name} override ${override ?? 'cleared'}`);
          // A state change already published through onChange; wait until it is served.
          await published;
          return node;
        },
        addTxt: async (fqdn, value) => {
          const name = checkChallengeName(fqdn, current.site.domain);
          txt.add(name, value, current.dns.api.txtLifetimeMs);
          log.info({ name }, 'dns-01 txt value set');
          await publish();
        },
        removeTxt: async (fqdn, value) => {
          const name = checkChallengeName(fqdn, current.site.domain);
          if (!txt.remove(name, value)) return;
          log.info({ name }, 'dns-01 txt value removed');
          await publish();
        },
        metrics: async () => {
          const parts = await backend.metrics();
          return renderMetrics(sumMetrics(parts), {
            nodes: health
              .status()
              .map((s) => ({ name: s.name, up: s.state === 'up', override: s.override })),
            serial,
            reloads,
            reloadFailures,
            txtRecords: txt.size,
            workers: backend.workers,
          });
        },
      });
      const started = api;
      cleanups.push(() => started.close());
    }

    const reload = async (): Promise<boolean> => {
      let next: Config;
      try {
        next = await loadConfig(current.file);
        await loadGeoTable(next.dns.geoip);
        if (api && next.dns.api.tokenFile) await api.setTokenFile(next.dns.api.tokenFile);
      } catch (error) {
        reloadFailures++;
        log.error(
          { file: current.file, error: error instanceof Error ? error.message : String(error) },
          'reload failed, still serving the previous configuration',
        );
        return false;
      }
      if (!options.listen && next.dns.listen.join(' ') !== current.dns.listen.join(' ')) {
        log.warn({ listen: next.dns.listen }, 'dns.listen changed: restart geodns to listen there');
      }
      if (options.apiListen === undefined && next.dns.api.listen !== current.dns.api.listen) {
        log.warn(
          { listen: next.dns.api.listen },
          'dns.api.listen changed: restart geodns to move the API',
        );
      }
      if (api && next.dns.api.tokenFile === null) {
        log.warn(
          'dns.api.tokenFile was removed: the API keeps the previous token until geodns restarts',
        );
      }
      current = next;
      health.reload(next);
      for (const [name] of txt.entries()) {
        if (!name.endsWith(`.${next.site.domain}`)) txt.remove(name, null);
      }
      watchGeo();
      reloads++;
      await publish();
      log.info({ serial }, 'configuration reloaded');
      return true;
    };

    // Watch directories, not files: editors and `mv` replace the file (a new inode).
    const watchers = new Map<string, FSWatcher>();
    let timer: NodeJS.Timeout | null = null;
    const quietMs = options.reloadQuietMs ?? DEFAULT_RELOAD_QUIET_MS;
    const schedule = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        void reload();
      }, quietMs);
    };
    const watchFile = (file: string) => {
      const dir = dirname(file);
      const key = `${dir}\0${basename(file)}`;
      if (watchers.has(key)) return;
      try {
        const watcher = watch(dir, (_event, name) => {
          if (name === null || name === basename(file)) schedule();
        });
        watcher.on('error', (error) =>
          log.warn(
            { dir, error: error.message },
            'stopped watching for changes; SIGHUP still reloads',
          ),
        );
        watchers.set(key, watcher);
      } catch (error) {
        log.warn(
          { dir, error: error instanceof Error ? error.message : String(error) },
          'cannot watch for changes; SIGHUP still reloads',
        );
      }
    };
    const watchGeo = () => {
      if (options.watch !== false && current.dns.geoip) watchFile(current.dns.geoip);
    };
    if (options.watch !== false && isAbsolute(config.file)) watchFile(config.file);
    watchGeo();
    cleanups.push(() => {
      if (timer) clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
    });

    const address: GeodnsAddress = { dns: [...backend.addresses], api: api?.address ?? null };
    log.info({ dns: address.dns, api: address.api }, 'geodns listening');
    options.signal?.addEventListener('abort', () => void close(), { once: true });
    if (options.signal?.aborted) await close();
    return { address, reload, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function startDns(
  config: Config,
  options: StartGeodnsOptions,
  first: ZoneMessage,
): Promise<DnsBackend> {
  const listen = options.listen ?? config.dns.listen;
  const wanted = options.workers ?? config.dns.workers;
  let count = wanted === 0 ? availableParallelism() : wanted;
  const entry = workerEntry();
  if (count > 1 && entry === null) {
    options.log.warn(
      { workers: count },
      'running from sources: one process answers (workers need the built package)',
    );
    count = 1;
  }
  if (count > 1 && entry !== null)
    return startWorkers(count, entry, listen, config.dns.tcpIdleTimeoutMs, first, options.log);
  const serving = await createServing(first, { now: options.now });
  const listeners = await listenDns(listen, serving.responder, {
    tcpIdleTimeoutMs: config.dns.tcpIdleTimeoutMs,
  });
  return {
    addresses: listeners.addresses,
    workers: 1,
    apply: (zone) => serving.apply(zone),
    metrics: () => Promise.resolve([serving.responder.metrics.toData()]),
    close: () => listeners.close(),
  };
}

/**
 * The next SOA serial: the current Unix time, or one more than the last when
 * that is not larger (several changes in one second). RFC 1982 arithmetic
 * wraps in 2106.
 */
export function nextSerial(previous: number): number {
  const now = Math.floor(Date.now() / 1000) >>> 0;
  return now > previous ? now : (previous + 1) >>> 0;
}
