import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { isIP } from 'node:net';
import { NODE_LAYOUT, defaultOriginConfig, OwncdnError, findNode } from '@owncdn/core';
import type { Config, OriginConfig } from '@owncdn/core';

/** What `startOrigin` is asked to serve: a node of owncdn.yaml, or any directory. */
export interface OriginOptions {
  /** The loaded owncdn.yaml. Required with `node`; optional with `dir` (for header rules and limits). */
  readonly config?: Config;
  /** Node mode: serve `<root>/current` of this node. */
  readonly node?: string;
  /** Standalone mode: serve this directory. */
  readonly dir?: string;
  /** Standalone mode: `host:port` to listen on (default 127.0.0.1:8080; port 0 = any free port). */
  readonly listen?: string;
  /** Worker processes; 0 = one per core; default `config.origin.workers`. 1 serves in this process. */
  readonly workers?: number;
  /** Override the plain-HTTP port: the node's, or the port of `listen` (0 = any free port). */
  readonly httpPort?: number;
  /** Override the node's HTTPS port (0 = any free port). */
  readonly httpsPort?: number;
  /** Override `origin.admin` (`host:port`, or null for none). */
  readonly admin?: string | null;
  /** Override `origin.accessLog` (`off`, `stdout`, or a file). */
  readonly accessLog?: string;
  /** Reported by /healthz. */
  readonly version?: string;
  /** Quiet time after the last file event before a reload, ms (default 20). */
  readonly settleMs?: number;
}

/** A set of listeners of one kind: every host on one port. */
export interface ListenSpec {
  readonly hosts: readonly string[];
  readonly port: number;
}

/**
 * Everything a serving process needs, as plain JSON: the primary resolves it
 * once and hands it to each cluster worker.
 */
export interface Settings {
  readonly mode: 'node' | 'dir';
  /** Node name (node mode) or null. */
  readonly node: string | null;
  /** The directory served: `<root>/current` or the `--dir` directory (absolute). */
  readonly siteDir: string;
  /** The node's root (certs/, acme-challenge/) or null in dir mode. */
  readonly root: string | null;
  readonly http: ListenSpec;
  readonly https: ListenSpec | null;
  readonly admin: ListenSpec | null;
  readonly origin: OriginConfig;
  /** Names plain HTTP may redirect to (site names); the first is used for an unknown Host. */
  readonly names: readonly string[];
  /** Certificate names in config order: the first present one is the default certificate. */
  readonly certificateOrder: readonly string[];
  readonly workers: number;
  readonly version: string;
  readonly settleMs: number;
}

/** Splits `host:port` or `[v6]:port`; throws OWNCDN_USAGE when it is neither. */
export function parseHostPort(text: string, what: string): ListenSpec {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || host === undefined || !(port >= 0 && port <= 65_535)) {
    throw new OwncdnError(
      'OWNCDN_USAGE',
      `${what}: ${JSON.stringify(text)} is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)`,
    );
  }
  return { hosts: [host], port };
}

function checkPort(port: number | undefined, what: string): void {
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new OwncdnError('OWNCDN_USAGE', `${what}: ${String(port)} is not a port (0-65535)`);
  }
}

/** Resolves options into Settings; throws OWNCDN_USAGE or OWNCDN_NODE_UNKNOWN when they do not describe one thing to serve. */
export function resolveSettings(options: OriginOptions): Settings {
  const { config } = options;
  checkPort(options.httpPort, 'http port');
  checkPort(options.httpsPort, 'https port');
  if (
    options.workers !== undefined &&
    !(Number.isInteger(options.workers) && options.workers >= 0)
  ) {
    throw new OwncdnError(
      'OWNCDN_USAGE',
      `workers: ${String(options.workers)} is not a count (0 = one per core)`,
    );
  }
  if ((options.node === undefined) === (options.dir === undefined)) {
    throw new OwncdnError(
      'OWNCDN_USAGE',
      'origin needs either a node (--node au) or a directory (--dir ./public), not both or neither',
    );
  }
  const base = config?.origin ?? defaultOriginConfig();
  const origin: OriginConfig = {
    ...base,
    admin: options.admin !== undefined ? options.admin : base.admin,
    accessLog: options.accessLog ?? base.accessLog,
  };
  const requested = options.workers ?? origin.workers;
  const workers = requested === 0 ? availableParallelism() : requested;
  const admin = origin.admin === null ? null : parseHostPort(origin.admin, 'origin.admin');
  const common = {
    origin,
    workers,
    admin,
    version: options.version ?? '0.0.0',
    settleMs: options.settleMs ?? 20,
    names: config?.site.names ?? [],
    certificateOrder: config?.certd.certificates.map((c) => c.name) ?? [],
  };
  if (options.dir !== undefined) {
    const listen = parseHostPort(options.listen ?? '127.0.0.1:8080', '--listen');
    return {
      ...common,
      mode: 'dir',
      node: null,
      siteDir: resolve(options.dir),
      root: null,
      http: { hosts: listen.hosts, port: options.httpPort ?? listen.port },
      https: null,
    };
  }
  if (config === undefined)
    throw new OwncdnError(
      'OWNCDN_USAGE',
      `node mode (--node ${String(options.node)}) needs the owncdn.yaml config`,
    );
  const node = findNode(config, options.node ?? '');
  const hosts = bindHosts(origin.bind, node.ipv4, node.ipv6);
  return {
    ...common,
    mode: 'node',
    node: node.name,
    siteDir: resolve(node.root, NODE_LAYOUT.current),
    root: node.root,
    http: { hosts, port: options.httpPort ?? node.httpPort },
    https: { hosts, port: options.httpsPort ?? node.httpsPort },
  };
}

/** `all` → `::` and `0.0.0.0`; `node` → the node's own addresses; otherwise the one IP given. */
export function bindHosts(bind: string, ipv4: string, ipv6: string | null): string[] {
  if (bind === 'all') return ['::', '0.0.0.0'];
  if (bind === 'node') return ipv6 ? [ipv4, ipv6] : [ipv4];
  if (isIP(bind) === 0)
    throw new OwncdnError(
      'OWNCDN_USAGE',
      `origin.bind: ${JSON.stringify(bind)} is not all, node or an IP address`,
    );
  return [bind];
}
