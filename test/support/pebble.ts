import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { onTestFinished } from 'vitest';
import { makePebbleApiCertificate, waitForTcp } from '../../packages/cli/src/demo/pebble.js';
import { findFreePort } from './ports.js';
import { startDaemon } from './process.js';
import type { Daemon } from './process.js';
import { makeTempDir } from './tmp.js';

/** A throwaway CA and a server certificate for 127.0.0.1/localhost, made with openssl. */
export interface TestCa {
  /** PEM of the CA certificate: what clients trust. */
  readonly caPath: string;
  readonly caPem: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/**
 * Makes a one-day CA and a `localhost`/`127.0.0.1` server certificate signed
 * by it, in `dir` (Debian's pebble ships no certificate for its API).
 */
export async function makeTestCa(dir: string): Promise<TestCa> {
  const { caPath, certPath, keyPath } = await makePebbleApiCertificate(dir, 1);
  return { caPath, caPem: await readFile(caPath, 'utf8'), certPath, keyPath };
}

export interface PebbleOptions {
  /** Port Pebble's VA connects to for HTTP-01 (the nodes' shared plain-HTTP port). */
  readonly httpPort: number;
  /** Port for TLS-ALPN-01 validations (unused by owncdn; any number). */
  readonly tlsPort?: number;
  /** `host:port` of the DNS server Pebble resolves challenge names with (geodns or challtestsrv). */
  readonly dnsServer: string;
  /**
   * Environment overrides. Defaults: PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0,
   * PEBBLE_AUTHZREUSE=0. Pass `{ PEBBLE_WFE_NONCEREJECT: '5' }` for Pebble's own default.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Lifetime of issued certificates, seconds (Pebble's default is 5 years). */
  readonly certValiditySeconds?: number;
  /** EAB key ids → base64url HMAC keys; when given, Pebble requires EAB. */
  readonly eab?: Readonly<Record<string, string>>;
}

export interface Pebble {
  /** The ACME directory, `https://127.0.0.1:PORT/dir`. */
  readonly directoryUrl: string;
  /** `https://127.0.0.1:PORT` of the management interface. */
  readonly managementUrl: string;
  /** PEM file of the CA that signed Pebble's API certificate: trust it to talk to the API. */
  readonly apiCaPath: string;
  readonly apiCaPem: string;
  /** The localhost/127.0.0.1 certificate and key Pebble's API uses (e.g. for a proxy in front of it). */
  readonly apiCertPath: string;
  readonly apiKeyPath: string;
  /** Pebble's issuing root for this run (it changes on every start), from /roots/0. */
  rootPem(): Promise<string>;
  readonly daemon: Daemon;
  readonly pid: number;
  /** Stops Pebble (SIGTERM, by PID) and waits for it to exit; also done when the test finishes. */
  close(): Promise<void>;
}

/** Pebble's defaults that make tests slow or flaky; each is overridable through `env`. */
const PEBBLE_TEST_ENV = {
  // Pebble otherwise sleeps 0–15 s before each validation.
  PEBBLE_VA_NOSLEEP: '1',
  // Pebble otherwise rejects 5 % of good nonces; one test keeps that on purpose.
  PEBBLE_WFE_NONCEREJECT: '0',
  // Pebble otherwise reuses valid authorisations half of the time, skipping challenges.
  PEBBLE_AUTHZREUSE: '0',
} as const;

/**
 * Starts Debian's `pebble` on 127.0.0.1 with a throwaway API certificate and
 * waits for its "ACME directory available" line. It is stopped by PID when
 * the current test finishes.
 */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await makeTempDir('owncdn-pebble-');
  const ca = await makeTestCa(dir);
  const apiPort = await findFreePort();
  const managementPort = await findFreePort();
  const configPath = join(dir, 'pebble-config.json');
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${apiPort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: ca.certPath,
      privateKey: ca.keyPath,
      httpPort: options.httpPort,
      tlsPort: options.tlsPort ?? 5001,
      ocspResponderURL: '',
      externalAccountBindingRequired: options.eab !== undefined,
      ...(options.eab ? { externalAccountMACKeys: options.eab } : {}),
      ...(options.certValiditySeconds
        ? { certificateValidityPeriod: options.certValiditySeconds }
        : {}),
    },
  };
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const daemon = await startDaemon(
    'pebble',
    ['-config', configPath, '-dnsserver', options.dnsServer],
    {
      cwd: dir,
      env: { ...process.env, ...PEBBLE_TEST_ENV, ...options.env },
      ready: /ACME directory available at: (\S+)/,
    },
  );
  // The line is printed just before Go's ListenAndServe binds; wait for the socket itself.
  await waitForTcp('127.0.0.1', apiPort);
  await waitForTcp('127.0.0.1', managementPort);
  const managementUrl = `https://127.0.0.1:${managementPort}`;
  const agent = new Agent({ connect: { ca: ca.caPem } });
  let closing: Promise<void> | undefined;
  const pebble: Pebble = {
    directoryUrl: `https://127.0.0.1:${apiPort}/dir`,
    managementUrl,
    apiCaPath: ca.caPath,
    apiCaPem: ca.caPem,
    apiCertPath: ca.certPath,
    apiKeyPath: ca.keyPath,
    daemon,
    pid: daemon.pid,
    rootPem: async () => {
      const response = await request(`${managementUrl}/roots/0`, { dispatcher: agent });
      const body = await response.body.text();
      if (response.statusCode !== 200)
        throw new Error(`pebble /roots/0 answered ${response.statusCode}: ${body}`);
      return body;
    },
    // Idempotent: a test may stop Pebble on purpose before the cleanup does.
    close: () => (closing ??= daemon.stop().then(() => agent.close())),
  };
  onTestFinished(() => pebble.close());
  return pebble;
}

export interface ChallTestSrvOptions {
  /** A records: name → addresses (e.g. `{ 'example.test': ['127.0.0.11'] }`). */
  readonly a?: Readonly<Record<string, readonly string[]>>;
  /** Address for A queries of names not listed (default: none, so NOERROR with no answer). */
  readonly defaultIPv4?: string;
  /** Address for AAAA queries (default: none: Pebble asks AAAA first and would dial ::1). */
  readonly defaultIPv6?: string;
}

export interface ChallTestSrv {
  /** `127.0.0.1:PORT`, for Pebble's `-dnsserver`. */
  readonly dnsServer: string;
  readonly dnsPort: number;
  readonly managementUrl: string;
  /** Answers A queries for `host` with `addresses` (replacing earlier ones). */
  addA(host: string, addresses: readonly string[]): Promise<void>;
  /** Adds a TXT record (for DNS-01 tests that do not use geodns). */
  setTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  readonly daemon: Daemon;
  close(): Promise<void>;
}

/**
 * Starts `pebble-challtestsrv` as a DNS server only (its own HTTP-01,
 * TLS-ALPN and HTTPS servers off) on 127.0.0.1, with the given A records.
 * Stopped by PID when the test finishes.
 */
export async function startChallTestSrv(options: ChallTestSrvOptions = {}): Promise<ChallTestSrv> {
  const dnsPort = await findFreePort();
  const managementPort = await findFreePort();
  const daemon = await startDaemon(
    'pebble-challtestsrv',
    [
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${managementPort}`,
      '-defaultIPv4',
      options.defaultIPv4 ?? '',
      '-defaultIPv6',
      options.defaultIPv6 ?? '',
    ],
    { ready: /Starting management server on/ },
  );
  await waitForTcp('127.0.0.1', managementPort);
  const managementUrl = `http://127.0.0.1:${managementPort}`;
  const post = async (path: string, body: object) => {
    const response = await request(`${managementUrl}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200)
      throw new Error(`challtestsrv ${path} answered ${response.statusCode}: ${text}`);
  };
  const fqdn = (host: string) => (host.endsWith('.') ? host : `${host}.`);
  const srv: ChallTestSrv = {
    dnsServer: `127.0.0.1:${dnsPort}`,
    dnsPort,
    managementUrl,
    addA: (host, addresses) => post('/add-a', { host: fqdn(host), addresses }),
    setTxt: (host, value) => post('/set-txt', { host: fqdn(host), value }),
    clearTxt: (host) => post('/clear-txt', { host: fqdn(host) }),
    daemon,
    close: async () => void (await daemon.stop()),
  };
  for (const [host, addresses] of Object.entries(options.a ?? {})) await srv.addA(host, addresses);
  return srv;
}
