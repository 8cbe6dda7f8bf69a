import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, symlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onTestFinished } from 'vitest';
import { createSilentLogger, parseConfig } from '@owncdn/core';
import type { Config, Logger } from '@owncdn/core';
import { startOrigin } from '@owncdn/origin';
import type { OriginOptions, RunningOrigin } from '@owncdn/origin';
import { makeTempDir, writeTree } from '../../../test/support/tmp.js';
import type { Tree } from '../../../test/support/tmp.js';

const run = promisify(execFile);

/** A logger that keeps every record, so tests can assert on what was logged. */
export interface LogRecord {
  readonly level: string;
  readonly msg: string | undefined;
  readonly obj: Record<string, unknown>;
}

export interface RecordingLogger extends Logger {
  readonly records: LogRecord[];
  /** Resolves with the first record after the `skip` first ones that has message `msg` and passes `test`. */
  waitFor(
    msg: string,
    test?: (obj: Record<string, unknown>) => boolean,
    skip?: number,
  ): Promise<LogRecord>;
}

export function createRecordingLogger(): RecordingLogger {
  const records: LogRecord[] = [];
  const wakers = new Set<() => void>();
  const push = (record: LogRecord): void => {
    records.push(record);
    for (const wake of wakers) wake();
  };
  const waitFor: RecordingLogger['waitFor'] = (msg, test = () => true, skip = 0) =>
    new Promise((resolve) => {
      const check = (): void => {
        const found = records.slice(skip).find((r) => r.msg === msg && test(r.obj));
        if (found) {
          wakers.delete(check);
          resolve(found);
        }
      };
      wakers.add(check);
      check();
    });
  const make = (bindings: Record<string, unknown>): RecordingLogger => {
    const emit =
      (level: string) =>
      (objOrMsg: object | string, msg?: string): void => {
        if (typeof objOrMsg === 'string') push({ level, msg: objOrMsg, obj: { ...bindings } });
        else push({ level, msg, obj: { ...bindings, ...(objOrMsg as Record<string, unknown>) } });
      };
    return {
      records,
      waitFor,
      error: emit('error'),
      warn: emit('warn'),
      info: emit('info'),
      debug: emit('debug'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return make({});
}

/** Starts an origin and closes it when the test finishes. */
export async function start(
  options: OriginOptions,
  log: Logger = createSilentLogger(),
): Promise<RunningOrigin> {
  const origin = await startOrigin(options, { log });
  onTestFinished(() => origin.close());
  return origin;
}

/** Serves `tree` in --dir mode on 127.0.0.1, one process; returns the origin and its base URL. */
export async function serveTree(
  tree: Tree,
  extra: Partial<OriginOptions> = {},
  log?: Logger,
): Promise<{ origin: RunningOrigin; base: string; dir: string }> {
  const dir = join(await makeTempDir('owncdn-origin-'), 'site');
  await writeTree(dir, tree);
  await mkdir(dir, { recursive: true });
  const origin = await start({ dir, listen: '127.0.0.1:0', workers: 1, ...extra }, log);
  return { origin, base: `http://${origin.address.http[0] ?? ''}`, dir };
}

/** A node's root with `releases/<id>` for each tree and `current` pointing at the first. */
export interface NodeRoot {
  readonly root: string;
  /** Writes a new release directory (not yet current). */
  addRelease(id: string, tree: Tree): Promise<void>;
  /** Points `current` at `releases/<id>` the way sync does: a new symlink renamed over the old. */
  activate(id: string): Promise<void>;
}

export async function makeNodeRoot(): Promise<NodeRoot> {
  const root = join(await makeTempDir('owncdn-node-'), 'root');
  await mkdir(join(root, 'releases'), { recursive: true });
  return {
    root,
    addRelease: async (id, tree) => {
      await writeTree(join(root, 'releases', id), tree);
    },
    activate: async (id) => {
      const tmp = join(root, `.current.tmp-${id}`);
      await symlink(join('releases', id), tmp);
      await rename(tmp, join(root, 'current'));
    },
  };
}

/** A one-node owncdn.yaml for `root`, on 127.0.0.1, with extra `origin:` settings (YAML flow text). */
export function nodeConfig(root: string, origin = '', certificates = ''): Config {
  return parseConfig(
    `site: { domain: example.test, names: [example.test, www.example.test] }
nodes:
  - { name: au, ipv4: 127.0.0.1, continents: [OC], default: true, root: ${root} }
origin: { bind: node, workers: 1, drainTimeout: 500ms${origin ? `, ${origin}` : ''} }
dns: { nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.1 }] }
${certificates ? `certd: { certificates: [${certificates}] }` : ''}
`,
    '/tmp/owncdn.yaml',
  );
}

/** Starts node `au` of `config` on free ports. */
export async function serveNode(
  config: Config,
  extra: Partial<OriginOptions> = {},
  log?: Logger,
): Promise<{ origin: RunningOrigin; http: string; https: string }> {
  const origin = await start({ config, node: 'au', httpPort: 0, httpsPort: 0, ...extra }, log);
  return {
    origin,
    http: `http://${origin.address.http[0] ?? ''}`,
    https: `https://${origin.address.https[0] ?? ''}`,
  };
}

/**
 * Writes a self-signed certificate for `names` into `<root>/certs/<name>`
 * the way certd does: a versioned directory, then the `<name>` symlink
 * renamed over. Returns the PEM of the certificate.
 */
export async function installCertificate(
  root: string,
  name: string,
  names: readonly string[],
  version: string,
  /** Break the set on purpose: a private key that does not match the certificate. */
  mismatchedKey = false,
): Promise<string> {
  const certs = join(root, 'certs');
  const dir = join(certs, `.${name}.${version}`);
  await mkdir(dir, { recursive: true });
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, 'privkey.pem'),
    '-out',
    join(dir, 'fullchain.pem'),
    '-days',
    '30',
    '-subj',
    `/CN=${names[0] ?? name}`,
    '-addext',
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
  ]);
  if (mismatchedKey) {
    await run('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-out',
      join(dir, 'privkey.pem'),
    ]);
  }
  const tmp = join(certs, `.${name}.link-${version}`);
  await symlink(dir, tmp);
  await rename(tmp, join(certs, name));
  return readFile(join(dir, 'fullchain.pem'), 'utf8');
}

/**
 * Sends `request` as raw bytes (no URL normalisation: `..` reaches the
 * server as written) and resolves with everything the server sent back
 * until it closed or went quiet after a full response.
 */
export function rawRequest(address: string, request: string | Buffer): Promise<string> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (isComplete(data)) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(data));
    socket.write(request);
  });
}

/** True once `data` holds a whole response (headers plus Content-Length bytes). */
function isComplete(data: string): boolean {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(data.slice(0, end));
  return length !== null && data.length - end - 4 >= Number(length[1]);
}

/** Status code of a raw response (`HTTP/1.1 404 Not Found` → 404). */
export function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}
