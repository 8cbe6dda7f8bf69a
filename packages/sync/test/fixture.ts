import { mkdir, readlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseConfig } from '@owncdn/core';
import type { Config } from '@owncdn/core';
import { onTestFinished } from 'vitest';
import { startSshd } from '../../../test/support/sshd.js';
import type { Sshd } from '../../../test/support/sshd.js';
import { makeTempDir } from '../../../test/support/tmp.js';

export const NODE_NAMES = ['au', 'us', 'fr'] as const;
const ADDRESSES = ['127.0.0.11', '127.0.0.12', '127.0.0.13'] as const;

export interface Cluster {
  readonly config: Config;
  readonly roots: Readonly<Record<string, string>>;
  readonly sshd: Sshd | null;
  /** Writes the config again with changes (e.g. a node's ssh alias pointing at a closed port). */
  withNodes(
    change: Partial<Record<string, { ssh?: string | null; sshConfig?: string }>>,
    extra?: string,
  ): Config;
  /** The same config as a file (for the `owncdn` program); returns its path. */
  writeConfigFile(
    change?: Partial<Record<string, { ssh?: string | null; sshConfig?: string }>>,
  ): Promise<string>;
}

export interface ClusterOptions {
  /** `ssh` (default): every node through the test sshd; `local`: directories. */
  readonly transport?: 'ssh' | 'local';
  /** Start a stand-in origin per node that reports `current` on /healthz (default true). */
  readonly origins?: boolean;
  readonly keep?: number;
  /** sync.exclude patterns. */
  readonly exclude?: readonly string[];
  /** Extra YAML appended at top level. */
  readonly extra?: string;
}

/**
 * Three nodes (au, us, fr) with roots whose names have a space and a non-ASCII
 * letter, reached through one private sshd (each node its own Host alias), and
 * optionally a tiny HTTP server per node answering /healthz with the release
 * `current` points at, as origin does. (origin itself is not under test here.)
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const base = await makeTempDir('owncdn-sync-');
  const roots: Record<string, string> = {};
  for (const name of NODE_NAMES) {
    roots[name] = join(base, `node ${name} é`);
    await mkdir(roots[name], { recursive: true });
  }
  const sshd = options.transport === 'local' ? null : await startSshd({ aliases: [...NODE_NAMES] });
  const ports: Record<string, number> = {};
  for (const [i, name] of NODE_NAMES.entries()) {
    ports[name] =
      options.origins === false
        ? 1
        : await startHealthStub(ADDRESSES[i] ?? '127.0.0.1', roots[name] ?? '');
  }
  const yamlFor = (
    change: Partial<Record<string, { ssh?: string | null }>> = {},
    sshConfig = sshd?.clientConfig ?? null,
    extra = '',
  ): string => {
    const nodes = NODE_NAMES.map((name, i) => {
      const ssh = change[name]?.ssh !== undefined ? change[name]?.ssh : sshd ? name : null;
      return `  - { name: ${name}, ipv4: ${ADDRESSES[i]}, continents: [${['OC', 'NA', 'EU'][i]}], default: ${i === 0}, ssh: ${JSON.stringify(ssh)}, root: ${JSON.stringify(roots[name])}, http: ${ports[name]} }`;
    });
    const yaml = [
      'site: { domain: example.test, names: [example.test], content: ./public }',
      'nodes:',
      ...nodes,
      `ssh: { config: ${JSON.stringify(sshConfig)}, connectTimeout: 5s }`,
      'dns: { nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.53 }], health: { timeout: 1s } }',
      'certd: { email: null }',
      `sync: { keep: ${options.keep ?? 5}, confirmTimeout: 5s, exclude: ${JSON.stringify(options.exclude ?? [])} }`,
      options.extra ?? '',
      extra,
    ].join('\n');
    return yaml;
  };
  const build = (
    change: Partial<Record<string, { ssh?: string | null }>> = {},
    sshConfig = sshd?.clientConfig ?? null,
    extra = '',
  ): Config => parseConfig(yamlFor(change, sshConfig, extra), join(base, 'owncdn.yaml'));
  const sshConfigOf = (change: Partial<Record<string, { sshConfig?: string }>>) =>
    Object.values(change).find((c) => c?.sshConfig)?.sshConfig ?? sshd?.clientConfig ?? null;
  return {
    config: build(),
    roots,
    sshd,
    withNodes: (change, extra) => build(change, sshConfigOf(change), extra),
    writeConfigFile: async (change = {}) => {
      const file = join(base, 'owncdn.yaml');
      await writeFile(file, yamlFor(change, sshConfigOf(change)));
      return file;
    },
  };
}

/** A /healthz that answers `{"release": <basename of current>}` like origin; closed after the test. */
async function startHealthStub(host: string, root: string): Promise<number> {
  const server = createServer((req, res) => {
    readlink(join(root, 'current'))
      .then((target) => target.split('/').pop() ?? null)
      .catch(() => null)
      .then((release) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ status: 'ok', release }));
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}
