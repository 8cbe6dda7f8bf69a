import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { OwncdnError } from '@owncdn/core';
import logUpdate from 'log-update';
import { request } from 'undici';
import { OWNCDN_BIN, runOwncdn, startOwncdn } from './children.js';
import type { Child } from './children.js';
import { hasPebble, startDemoPebble } from './pebble.js';
import type { DemoPebble } from './pebble.js';
import { pickPort } from './ports.js';
import { arrayField, formatStatus, parseJson, sampleStatus, stringField } from './status.js';
import type { StatusSample, StatusSources } from './status.js';
import { shellPath, Tour } from './tour.js';
import {
  DEMO_DOMAIN,
  DEMO_NAME,
  DEMO_NODES,
  prepareWorkspace,
  writeDemoConfig,
} from './workspace.js';
import type { DemoPorts } from './workspace.js';

export interface DemoOptions {
  /** The workspace (created or reused). */
  readonly dir: string;
  readonly tour: boolean;
  readonly json: boolean;
  readonly stdout: NodeJS.WritableStream;
  readonly isTTY: boolean;
  readonly signal: AbortSignal;
}

const NODE_ADDRESSES = DEMO_NODES.map((n) => n.ipv4);
/** How long the demo waits for certificates to reach every origin after certd finished. */
const CERT_WAIT_MS = 15_000;
/** How long to wait for geodns to see every node healthy (rise 2 × 1 s interval, with margin). */
const HEALTH_WAIT_MS = 20_000;

async function choosePorts(usePebble: boolean): Promise<DemoPorts> {
  const http = await pickPort(NODE_ADDRESSES, 8080);
  const https = await pickPort(NODE_ADDRESSES, 8443, { avoid: new Set([http]) });
  const dns = await pickPort(['127.0.0.1'], 5300, { udp: true });
  const api = await pickPort(['127.0.0.1'], 5380, { avoid: new Set([dns]) });
  const pebble = usePebble
    ? {
        acme: await pickPort(['127.0.0.1'], 14000, { avoid: new Set([dns, api]) }),
        management: await pickPort(['127.0.0.1'], 15000, { avoid: new Set([dns, api]) }),
      }
    : null;
  return { http, https, dns, api, pebble };
}

/** GETs a JSON document (undefined unless 200 with JSON), with an optional bearer token. */
async function getJson(url: string, token?: string): Promise<unknown> {
  const response = await request(url, {
    headersTimeout: 2_000,
    bodyTimeout: 2_000,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const text = await response.body.text();
  return response.statusCode === 200 ? parseJson(text) : undefined;
}

/** Polls `check` every 200 ms until it returns true or `timeoutMs` passes. */
async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  signal: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new OwncdnError(
        'OWNCDN_INTERNAL',
        `demo: ${what} did not happen within ${timeoutMs / 1000} s`,
      );
    // Polling a loopback service a few times a second: nothing to subscribe to across processes.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * `owncdn demo`: three origins, geodns, a publish and (with Pebble) certd,
 * all on loopback, as child processes of this one; a guided tour; a live
 * status line until the signal fires; then every child is stopped.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const out = options.stdout;
  const say = (text = '') => {
    if (!options.json) out.write(`${text}\n`);
  };
  const workspace = await prepareWorkspace(resolve(options.dir));
  const usePebble = hasPebble();
  const ports = await choosePorts(usePebble);
  await writeDemoConfig(ports, workspace, randomBytes(24).toString('base64url'));
  const token = (await readFile(workspace.tokenPath, 'utf8')).trim();
  const config = ['-c', workspace.configPath];
  const children: Child[] = [];
  const track = (child: Child) => {
    children.push(child);
    return child;
  };
  const stopAll = async () => {
    // Reverse start order: Pebble, then origins, then geodns; all by PID.
    for (const child of [...children].reverse()) await child.stop();
  };

  try {
    say(
      `owncdn demo: three regions on this machine (workspace ${shellPath(workspace.dir)}, logs in ${shellPath(workspace.logDir)})`,
    );
    const geodns = track(startOwncdn('geodns', ['geodns', ...config], workspace.logDir));
    const origins = DEMO_NODES.map((node) =>
      track(
        startOwncdn(
          `origin-${node.name}`,
          ['origin', ...config, '--node', node.name],
          workspace.logDir,
        ),
      ),
    );
    await Promise.all([
      geodns.waitForLog('geodns listening'),
      ...origins.map((o) => o.waitForLog('origin listening')),
    ]);
    say(
      `  started geodns (pid ${geodns.pid}) and origins ${DEMO_NODES.map((n, i) => `${n.name} (pid ${origins[i]?.pid ?? '?'})`).join(', ')}`,
    );

    const push = await runOwncdn(
      'sync-push',
      ['sync', 'push', ...config, '--json'],
      workspace.logDir,
    );
    if (push.status !== 0)
      throw new OwncdnError(
        'OWNCDN_SYNC_PUSH_FAILED',
        `demo: sync push failed (status ${String(push.status)}):\n${push.child.tail()}`,
      );
    const health = DEMO_NODES.map((n) => `http://${n.ipv4}:${ports.http}/healthz`);
    const releases = await Promise.all(
      health.map(async (url) => stringField(await getJson(url), 'release') ?? '-'),
    );
    say(`  published release ${releases[0] ?? '-'} to all three nodes (sync push)`);

    let pebble: DemoPebble | null = null;
    if (ports.pebble) {
      pebble = await startDemoPebble({
        dir: workspace.pebbleDir,
        logDir: workspace.logDir,
        acmePort: ports.pebble.acme,
        managementPort: ports.pebble.management,
        httpPort: ports.http,
        dnsServer: `127.0.0.1:${ports.dns}`,
      });
      track(pebble.child);
      const certd = await runOwncdn('certd', ['certd', ...config, '--once'], workspace.logDir);
      if (certd.status !== 0)
        throw new OwncdnError(
          'OWNCDN_ACME_FAILED',
          `demo: certd --once failed (status ${String(certd.status)}):\n${certd.child.tail()}`,
        );
      await waitUntil(
        async () =>
          (
            await Promise.all(
              health.map(
                async (url) => arrayField(await getJson(url), 'certificates')?.length ?? 0,
              ),
            )
          ).every((n) => n > 0),
        CERT_WAIT_MS,
        'every origin serving the new certificate',
        options.signal,
      );
      say(
        `  certd obtained a certificate for ${DEMO_DOMAIN}, ${DEMO_NAME} from Pebble and every origin serves it (HTTPS on :${ports.https})`,
      );
    }

    const apiUrl = `http://127.0.0.1:${ports.api}`;
    await waitUntil(
      async () => {
        const nodes = await getJson(`${apiUrl}/v1/nodes`, token);
        return (
          Array.isArray(nodes) &&
          nodes.length === 3 &&
          nodes.every((n: unknown) => stringField(n, 'state') === 'up')
        );
      },
      HEALTH_WAIT_MS,
      'geodns seeing every node healthy',
      options.signal,
    );
    say();

    const facts = {
      dnsPort: ports.dns,
      apiUrl,
      token,
      tokenPath: workspace.tokenPath,
      httpPort: ports.http,
      httpsPort: ports.https,
      rootPath: pebble?.rootPath ?? null,
      configPath: workspace.configPath,
      siteDir: workspace.siteDir,
      owncdn: `node ${shellPath(OWNCDN_BIN)}`,
      frOriginPid: origins[DEMO_NODES.findIndex((n) => n.name === 'fr')]?.pid ?? -1,
    };
    if (options.json) {
      out.write(
        `${JSON.stringify({
          ready: true,
          dir: workspace.dir,
          config: workspace.configPath,
          dns: `127.0.0.1:${ports.dns}`,
          api: apiUrl,
          tokenFile: workspace.tokenPath,
          name: DEMO_NAME,
          https: pebble !== null,
          rootCertificate: pebble?.rootPath ?? null,
          release: releases[0] ?? null,
          nodes: DEMO_NODES.map((n, i) => ({
            name: n.name,
            ipv4: n.ipv4,
            http: ports.http,
            https: ports.https,
            pid: origins[i]?.pid ?? null,
          })),
          pids: children.map((c) => ({ name: c.name, pid: c.pid })),
        })}\n`,
      );
    } else if (options.tour) {
      await new Tour(out, facts).run();
    } else {
      say(
        `geodns 127.0.0.1:${ports.dns} · nodes ${DEMO_NODES.map((n) => `${n.name} ${n.ipv4}:${ports.http}`).join(', ')}`,
      );
    }

    await runStatusLine(
      {
        apiUrl,
        token,
        origins: DEMO_NODES.map((n, i) => ({
          name: n.name,
          url: `http://${n.ipv4}:${ports.http}`,
          pid: origins[i]?.pid ?? -1,
        })),
      },
      options,
    );
  } finally {
    await stopAll();
  }
  say(`stopped ${children.length} processes; the workspace stays in ${shellPath(workspace.dir)}`);
}

/** Shows the live line (on a terminal) until the signal fires; elsewhere just waits. */
async function runStatusLine(sources: StatusSources, options: DemoOptions): Promise<void> {
  if (options.signal.aborted) return;
  const live = options.isTTY && !options.json;
  let previous: StatusSample | null = null;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    const sample = await sampleStatus(sources);
    if (live) logUpdate(formatStatus(previous, sample));
    previous = sample;
    if (!options.signal.aborted) timer = setTimeout(() => void tick(), 1_000);
  };
  if (live) await tick();
  await new Promise<void>((resolve) =>
    options.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  clearTimeout(timer);
  if (live) logUpdate.done();
}
