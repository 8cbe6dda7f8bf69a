import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSilentLogger, createTransport, loadConfig } from '@owncdn/core';
import { startOrigin } from '@owncdn/origin';
import type { RunningOrigin } from '@owncdn/origin';
import type { Config, Logger, NodeConfig, NodeTransport } from '@owncdn/core';
import { onTestFinished } from 'vitest';
import { startChallTestSrv, startPebble } from '../../../test/support/pebble.js';
import type { ChallTestSrv, Pebble, PebbleOptions } from '../../../test/support/pebble.js';
import { findPortFreeOnAll } from '../../../test/support/ports.js';
import { makeTempDir } from '../../../test/support/tmp.js';
import type { CertdOptions, CertdTimings } from '../src/index.js';

/** The "regions": three loopback addresses sharing one HTTP and one HTTPS port. */
export const NODE_ADDRESSES = ['127.0.0.11', '127.0.0.12', '127.0.0.13'] as const;
export const NAMES = ['example.test', 'www.example.test'] as const;

/** Short knobs for Pebble on loopback (STYLE.md §9: timing knobs are options). */
export const FAST_TIMINGS: Partial<CertdTimings> = {
  requestTimeoutMs: 5_000,
  pollIntervalMs: 50,
  pollMaxIntervalMs: 200,
  pollAttempts: 60,
  checkAttempts: 40,
  checkIntervalMs: 50,
  retryDelaysMs: [1_000, 2_000, 4_000],
};

export { memoryLogger } from '../../../test/support/log.js';

export interface LabDirs {
  readonly dir: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly roots: readonly string[];
  readonly stateDir: string;
}

export interface Lab extends LabDirs {
  readonly dns: ChallTestSrv | null;
  readonly pebble: Pebble;
}

/** A temp dir with three node roots, and one HTTP and one HTTPS port free on all node addresses. */
export async function makeLabDirs(): Promise<LabDirs> {
  const dir = await makeTempDir('owncdn-certd-');
  const [httpPort, httpsPort] = [
    await findPortFreeOnAll(NODE_ADDRESSES),
    await findPortFreeOnAll(NODE_ADDRESSES),
  ];
  const roots = await Promise.all(
    ['au', 'us', 'fr'].map(async (name) => {
      const root = join(dir, 'nodes', name);
      await mkdir(root, { recursive: true });
      return root;
    }),
  );
  return { dir, httpPort, httpsPort, roots, stateDir: join(dir, 'certd-state') };
}

/**
 * Pebble validating through challtestsrv (whose A records send each name to a
 * node address), or through `dnsServer` when given (e.g. geodns), and three
 * node roots on 127.0.0.11-13.
 */
export async function startLab(
  options: { pebble?: Partial<PebbleOptions>; dirs?: LabDirs; dnsServer?: string } = {},
): Promise<Lab> {
  const dirs = options.dirs ?? (await makeLabDirs());
  // Each name resolves to a different node, so validations land on more than one of them.
  const dns = options.dnsServer
    ? null
    : await startChallTestSrv({
        a: { [NAMES[0]]: [NODE_ADDRESSES[0]], [NAMES[1]]: [NODE_ADDRESSES[1]] },
      });
  const pebble = await startPebble({
    httpPort: dirs.httpPort,
    dnsServer: options.dnsServer ?? dns?.dnsServer ?? '',
    ...options.pebble,
  });
  return { ...dirs, dns, pebble };
}

/**
 * Writes an owncdn.yaml for the lab (local nodes) and loads it. `certd` lines
 * are appended to the certd section; `dns` replaces the dns section.
 */
export async function labConfig(
  lab: LabDirs & { pebble?: Pebble },
  extra: {
    certd?: string;
    nodes?: (i: number) => string;
    directory?: string;
    dns?: string;
    top?: string;
  } = {},
): Promise<Config> {
  const nodes = ['au', 'us', 'fr']
    .map(
      (name, i) => `  - name: ${name}
    ipv4: ${NODE_ADDRESSES[i]}
    continents: [${['OC, AS', 'NA', 'EU, AF, SA'][i]}]
    default: ${i === 0}
    root: ${lab.roots[i]}
${extra.nodes?.(i) ?? ''}`,
    )
    .join('\n');
  const text = `site:
  domain: example.test
  names: [${NAMES.join(', ')}]
nodes:
${nodes}
origin:
  http: ${lab.httpPort}
  https: ${lab.httpsPort}
  bind: node
${extra.dns ?? 'dns:\n  nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.1 }]\n'}
certd:
  email: admin@example.test
  directory: ${extra.directory ?? lab.pebble?.directoryUrl ?? 'https://127.0.0.1:9/dir'}
  caCert: ${lab.pebble?.apiCaPath ?? 'null'}
  agreeTerms: true
  state: ${lab.stateDir}
${extra.certd ?? ''}${extra.top ?? ''}`;
  const file = join(lab.dir, `owncdn-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, text);
  return loadConfig(file);
}

/** Options for runCertdOnce/startCertd in tests. */
export function testOptions(log: Logger, more: Partial<CertdOptions> = {}): CertdOptions {
  return { log, ...more, timings: { ...FAST_TIMINGS, ...more.timings } };
}

/** Registers `fn` to run when the test finishes (a close function). */
export function cleanup(fn: () => Promise<unknown>): void {
  onTestFinished(async () => void (await fn()));
}

/** The real origin (one in-process worker) on every node of `config`, closed when the test finishes. */
export async function startOrigins(
  config: Config,
  log: Logger = createSilentLogger(),
): Promise<Map<string, RunningOrigin>> {
  const origins = new Map<string, RunningOrigin>();
  for (const node of config.nodes) {
    const origin = await startOrigin(
      { config, node: node.name, workers: 1, admin: null },
      { log: log.child({ origin: node.name }) },
    );
    onTestFinished(() => origin.close());
    origins.set(node.name, origin);
  }
  return origins;
}

/** Core's real transport for a node, with some operations replaced (a node that drops tokens, or is down for deploys). */
export function transportWith(
  overrides: (
    node: NodeConfig,
  ) => Partial<Pick<NodeTransport, 'putFile' | 'putFileSet' | 'run'>> | null,
): NonNullable<CertdOptions['transport']> {
  return (config, node, log) => {
    const base = createTransport(config, node, { log });
    const changes = overrides(node);
    return changes ? { ...base, ...changes } : base;
  };
}
