import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { loadConfig } from '@owncdn/core';
import type { Config, Logger } from '@owncdn/core';
import { onTestFinished } from 'vitest';
import { makeTempDir } from '../../../test/support/tmp.js';
import { startGeodns } from '../src/index.js';

export { buildQuery, dig, ecsOption, header, tcpExchange, udpExchange } from './dns-client.js';
export type { DigResult, QueryOptions } from './dns-client.js';
import type { RunningGeodns, StartGeodnsOptions } from '../src/index.js';

/** The three test regions (DESIGN.md: several regions on one machine are loopback addresses). */
export const NODE_IPS = { au: '127.0.0.11', us: '127.0.0.12', fr: '127.0.0.13' } as const;
export type NodeName = keyof typeof NODE_IPS;

/** Client subnets with a known continent in the bundled database (checked in geo.test.ts). */
export const SUBNETS = {
  EU: '81.2.69.0/24', // GB
  NA: '8.8.8.0/24', // US
  OC: '1.1.1.0/24', // AU
  SA: '200.160.0.0/24', // BR
  AF: '41.0.0.0/24', // ZA
  AS: '202.12.27.0/24', // JP
} as const;

/** A logger that records every line, for asserting on exact messages. */
export interface RecordingLogger extends Logger {
  readonly lines: { level: string; msg: string; obj: Record<string, unknown> }[];
  /** Resolves when a line whose message matches appears (readiness by signal). */
  waitFor(
    pattern: RegExp,
    timeoutMs?: number,
  ): Promise<{ level: string; msg: string; obj: Record<string, unknown> }>;
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  const waiters = new Set<() => void>();
  const make = (level: string) => (objOrMsg: object | string, msg?: string) => {
    const obj = typeof objOrMsg === 'string' ? {} : (objOrMsg as Record<string, unknown>);
    lines.push({ level, msg: typeof objOrMsg === 'string' ? objOrMsg : (msg ?? ''), obj });
    for (const wake of waiters) wake();
  };
  const logger: RecordingLogger = {
    lines,
    error: make('error'),
    warn: make('warn'),
    info: make('info'),
    debug: make('debug'),
    child: () => logger,
    waitFor: (pattern, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < lines.length; seen++) {
            const line = lines[seen]!;
            if (pattern.test(line.msg)) {
              clearTimeout(timer);
              waiters.delete(check);
              resolve(line);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no log line matching ${String(pattern)} within ${timeoutMs} ms; got:\n${lines.map((l) => `${l.level} ${l.msg}`).join('\n')}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
  return logger;
}

/** A minimal origin: answers its health path with 200 JSON, or 503 while `healthy` is false. */
export interface FakeOrigin {
  readonly name: NodeName;
  readonly port: number;
  healthy: boolean;
  /** Accept the request and never answer (a hung origin: the probe times out). */
  hang: boolean;
  probes: number;
  /** Path of the last request. */
  lastPath: string;
  /** Stops listening (connections then fail: ECONNREFUSED). */
  stop(): Promise<void>;
  /** Listens again on the same address and port. */
  start(): Promise<void>;
}

export async function startOrigins(): Promise<Record<NodeName, FakeOrigin>> {
  const entries = await Promise.all(
    (Object.keys(NODE_IPS) as NodeName[]).map(async (name) => {
      let server: Server | null = null;
      const origin: FakeOrigin = {
        name,
        port: 0,
        healthy: true,
        hang: false,
        probes: 0,
        lastPath: '',
        stop: () =>
          new Promise<void>((resolve) => {
            if (!server) return resolve();
            server.closeAllConnections();
            server.close(() => resolve());
            server = null;
          }),
        start: () =>
          new Promise<void>((resolve, reject) => {
            const s = createServer((req, res) => {
              origin.probes++;
              origin.lastPath = req.url ?? '';
              if (origin.hang) return;
              if (origin.healthy)
                res
                  .writeHead(200, { 'content-type': 'application/json' })
                  .end(JSON.stringify({ status: 'ok', node: name, release: 'r1' }));
              else
                res
                  .writeHead(503, { 'content-type': 'application/json' })
                  .end(JSON.stringify({ status: 'no-release', node: name }));
            });
            s.keepAliveTimeout = 100;
            s.once('error', reject);
            s.listen(origin.port, NODE_IPS[name], () => {
              const address = s.address();
              (origin as { port: number }).port =
                typeof address === 'object' && address ? address.port : 0;
              server = s;
              resolve();
            });
          }),
      };
      await origin.start();
      onTestFinished(() => origin.stop());
      return [name, origin] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<NodeName, FakeOrigin>;
}

export interface ZoneFiles {
  readonly dir: string;
  readonly file: string;
  readonly token: string;
  readonly tokenFile: string;
  /** Rewrites owncdn.yaml with `extraDns` lines appended under `dns:`. */
  write(extraDns?: string): Promise<void>;
}

/** Writes owncdn.yaml for the three test nodes (ports from `origins`, or unused ones). */
export async function writeZone(
  origins: Partial<Record<NodeName, { port: number }>>,
  extraDns = '',
): Promise<ZoneFiles> {
  const dir = await makeTempDir('owncdn-geodns-');
  const token = 'test-token-0123456789abcdef';
  const tokenFile = join(dir, 'api.token');
  await writeFile(tokenFile, `${token}\n`);
  const file = join(dir, 'owncdn.yaml');
  const port = (n: NodeName) => origins[n]?.port ?? 9;
  const write = async (extra = extraDns) => {
    await writeFile(
      file,
      `site:
  domain: example.org
  names: [example.org, www.example.org]
nodes:
  - { name: au, ipv4: ${NODE_IPS.au}, ipv6: "2001:db8::11", continents: [OC, AS], default: true, root: ./au, http: ${port('au')} }
  - { name: us, ipv4: ${NODE_IPS.us}, continents: [NA], root: ./us, http: ${port('us')} }
  - { name: fr, ipv4: ${NODE_IPS.fr}, ipv6: "2001:db8::13", continents: [EU, AF, SA], root: ./fr, http: ${port('fr')} }
dns:
  nameservers:
    - { name: ns1.example.org, ipv4: 127.0.0.53, ipv6: "2001:db8::53" }
    - { name: ns.other.net }
  ttl: 30
  records:
    - { name: "@", type: MX, value: "10 mail.example.org." }
    - { name: mail, type: A, value: 192.0.2.25 }
    - { name: "@", type: TXT, value: "v=spf1 mx -all" }
    - { name: "@", type: CAA, value: '0 issue "letsencrypt.org"' }
    - { name: blog, type: CNAME, value: www.example.org. }
    - { name: docs, type: CNAME, value: blog }
    - { name: ext, type: CNAME, value: target.other.net. }
    - { name: dangling, type: CNAME, value: nothing.example.org. }
    - { name: _sip._tcp, type: SRV, value: "10 5 5060 sip.example.org." }
    - { name: sip, type: A, value: 192.0.2.60 }
    - { name: a.b.deep, type: TXT, value: "deep" }
    - { name: sub, type: NS, value: ns.sub.example.org. }
    - { name: ns.sub, type: A, value: 192.0.2.99 }
    - { name: "*.wild", type: A, value: 192.0.2.80 }
    - { name: "*.wild", type: TXT, value: "wildcard" }
    - { name: exact.wild, type: A, value: 192.0.2.81 }
    - { name: "*.geo", type: CNAME, value: www.example.org. }
    - { name: loop1, type: CNAME, value: loop2 }
    - { name: loop2, type: CNAME, value: loop1 }
    - { name: big, type: TXT, value: "${'x'.repeat(250)}" }
    - { name: big, type: TXT, value: "${'y'.repeat(250)}" }
    - { name: big, type: TXT, value: "${'z'.repeat(250)}" }
  health: { path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
  api: { tokenFile: ./api.token, txtLifetime: 10m }
  rrl: { enabled: false }
${extra}`,
    );
  };
  await write();
  return { dir, file, token, tokenFile, write };
}

export interface TestServer {
  readonly geodns: RunningGeodns;
  readonly config: Config;
  readonly log: RecordingLogger;
  readonly port: number;
  readonly api: string;
}

/** Starts geodns on 127.0.0.1 port 0 (and its API on port 0), closed when the test finishes. */
export async function startTestServer(
  files: ZoneFiles,
  options: Partial<StartGeodnsOptions> = {},
): Promise<TestServer> {
  const config = await loadConfig(files.file);
  const log = recordingLogger();
  const geodns = await startGeodns(config, {
    log,
    listen: ['127.0.0.1:0'],
    apiListen: '127.0.0.1:0',
    workers: 1,
    healthTiming: { intervalMs: 40, timeoutMs: 500, jitter: 0 },
    reloadQuietMs: 20,
    ...options,
  });
  onTestFinished(() => geodns.close());
  const port = Number(geodns.address.dns[0]?.split(':').pop());
  return { geodns, config, log, port, api: `http://${geodns.address.api ?? ''}` };
}

/** HTTP helper for the API (undici's fetch is fine here: nothing under test depends on raw bytes). */
export async function api(
  base: string,
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown } = {},
) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, text, json };
}

/** Three healthy fake origins and a zone pointing at them: the usual starting point. */
export async function healthyZone(
  extraDns = '',
): Promise<{ origins: Record<NodeName, FakeOrigin>; files: ZoneFiles }> {
  const origins = await startOrigins();
  const files = await writeZone(origins, extraDns);
  return { origins, files };
}

/** Rewrites owncdn.yaml through `edit` (a string transformation). */
export async function editZone(files: ZoneFiles, edit: (text: string) => string): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  await writeFile(files.file, edit(await readFile(files.file, 'utf8')));
}
