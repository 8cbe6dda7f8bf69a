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

/**
 * A CA for Pebble's own API certificate (Debian's pebble ships none), made
 * once with openssl and kept in the workspace. The demo's certd trusts it
 * through `certd.caCert`.
 */
async function ensureApiCertificate(
  dir: string,
): Promise<{ cert: string; key: string; ca: string }> {
  const ca = join(dir, 'api-ca.pem');
  const cert = join(dir, 'api-cert.pem');
  const key = join(dir, 'api-key.pem');
  if (existsSync(ca) && existsSync(cert) && existsSync(key)) return { cert, key, ca };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const caKey = join(dir, 'api-ca-key.pem');
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    caKey,
    '-out',
    ca,
    '-days',
    '3650',
    '-subj',
    '/CN=owncdn demo Pebble API CA',
  ]);
  await run('openssl', [
    'req',
    ...ec,
    '-keyout',
    key,
    '-out',
    join(dir, 'api.csr'),
    '-subj',
    '/CN=127.0.0.1',
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
    ca,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    '3650',
    '-extfile',
    join(dir, 'api.ext'),
  ]);
  return { cert, key, ca };
}

/** Resolves once something accepts TCP connections on host:port. */
async function waitForTcp(host: string, port: number, timeoutMs = 10_000): Promise<void> {
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
        certificate: api.cert,
        privateKey: api.key,
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
  const agent = new Agent({ connect: { ca: await readFile(api.ca, 'utf8') } });
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
