import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '@owncdn/core';
import { Agent, request } from 'undici';
import { Child } from './children.js';

const run = promisify(execFile);

/** Where Debian's pebble package puts the program. */
export const PEBBLE_BIN = '/usr/bin/pebble';

/** True when Debian's pebble (Let's Encrypt's test CA) is installed. */
export function hasPebble(): boolean {
  return existsSync(PEBBLE_BIN);
}

export interface DemoPebble {
  readonly child: Child;
  readonly directoryUrl: string;
  /** Pebble's issuing root for this run (it changes on every start), saved as PEM. */
  readonly rootPath: string;
}

export interface PebbleApiCertificate {
  /** The CA that signed the API certificate: what clients of Pebble's API trust. */
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/**
 * Makes a CA and a `localhost`/`127.0.0.1` certificate signed by it, with
 * openssl, in `dir`: Debian's pebble ships no certificate for its API.
 */
export async function makePebbleApiCertificate(
  dir: string,
  days: number,
): Promise<PebbleApiCertificate> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caPath = join(dir, 'api-ca.pem');
  const certPath = join(dir, 'api-cert.pem');
  const keyPath = join(dir, 'api-key.pem');
  const caKey = join(dir, 'api-ca-key.pem');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const validity = ['-days', String(days)];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    caKey,
    '-out',
    caPath,
    ...validity,
    '-subj',
    '/CN=owncdn Pebble API CA',
  ]);
  await run('openssl', [
    'req',
    ...ec,
    '-keyout',
    keyPath,
    '-out',
    join(dir, 'api.csr'),
    '-subj',
    '/CN=localhost',
  ]);
  await writeFile(
    join(dir, 'api.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    join(dir, 'api.csr'),
    '-CA',
    caPath,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    certPath,
    ...validity,
    '-extfile',
    join(dir, 'api.ext'),
  ]);
  return { caPath, certPath, keyPath };
}

/** The demo keeps one API certificate in its workspace, made on the first run. */
async function ensureApiCertificate(dir: string): Promise<PebbleApiCertificate> {
  const existing = {
    caPath: join(dir, 'api-ca.pem'),
    certPath: join(dir, 'api-cert.pem'),
    keyPath: join(dir, 'api-key.pem'),
  };
  if (Object.values(existing).every((path) => existsSync(path))) return existing;
  return makePebbleApiCertificate(dir, 3650);
}

/** Resolves once something accepts TCP connections on host:port. */
export async function waitForTcp(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port }, () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    // Pebble prints its readiness line just before Go binds the socket: poll briefly.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts Pebble for the demo: ACME on 127.0.0.1:acmePort, validating HTTP-01
 * on the nodes' HTTP port and resolving names through the demo's geodns.
 */
export async function startDemoPebble(options: {
  dir: string;
  logDir: string;
  acmePort: number;
  managementPort: number;
  httpPort: number;
  dnsServer: string;
}): Promise<DemoPebble> {
  const api = await ensureApiCertificate(options.dir);
  const configPath = join(options.dir, 'pebble-config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${options.acmePort}`,
        managementListenAddress: `127.0.0.1:${options.managementPort}`,
        certificate: api.certPath,
        privateKey: api.keyPath,
        httpPort: options.httpPort,
        tlsPort: 5001,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const env = {
    ...process.env,
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
    PEBBLE_AUTHZREUSE: '0',
  };
  const child = new Child(
    'pebble',
    PEBBLE_BIN,
    ['-config', configPath, '-dnsserver', options.dnsServer],
    options.logDir,
    env,
  );
  await child.waitForLine(/ACME directory available/);
  await waitForTcp('127.0.0.1', options.acmePort);
  await waitForTcp('127.0.0.1', options.managementPort);
  const agent = new Agent({ connect: { ca: await readFile(api.caPath, 'utf8') } });
  try {
    const response = await request(`https://127.0.0.1:${options.managementPort}/roots/0`, {
      dispatcher: agent,
    });
    const pem = await response.body.text();
    if (response.statusCode !== 200)
      throw new Error(`pebble's /roots/0 answered ${response.statusCode}`);
    const rootPath = join(options.dir, 'root.pem');
    await writeFileAtomic(rootPath, pem);
    return { child, directoryUrl: `https://127.0.0.1:${options.acmePort}/dir`, rootPath };
  } finally {
    await agent.close();
  }
}
