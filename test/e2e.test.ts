import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { OWNCDN_BIN } from '../packages/cli/test/run-cli.js';
import { startPebble } from './support/pebble.js';
import { findFreePort, findPortFreeOnAll } from './support/ports.js';
import { startDaemon } from './support/process.js';
import type { Daemon } from './support/process.js';
import { startSshd } from './support/sshd.js';
import { makeTempDir, writeTree } from './support/tmp.js';

const run = promisify(execFile);

const NODES = [
  { name: 'au', ipv4: '127.0.0.11', continents: ['OC', 'AS'], default: true },
  { name: 'us', ipv4: '127.0.0.12', continents: ['NA'], default: false },
  { name: 'fr', ipv4: '127.0.0.13', continents: ['EU', 'AF', 'SA'], default: false },
] as const;
type NodeName = (typeof NODES)[number]['name'];

/** Client subnets whose country the bundled database knows (GB, US, AU). */
const SUBNETS = { EU: '81.2.69.0/24', NA: '8.8.8.0/24', OC: '1.1.1.0/24' } as const;

const HEALTH = { intervalMs: 300, fall: 2, rise: 2 };

const page = (version: string) =>
  `<!doctype html><title>${version}</title><h1>release ${version}</h1>\n`;

/** Polls `check` (a loopback query) until it holds; the bound is generous, the test asserts no timing. */
async function eventually<T>(
  check: () => Promise<T>,
  accept: (value: T) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
}

describe('owncdn end to end', () => {
  it('routes, serves over HTTPS, publishes atomically, fails over, recovers and rolls back', async () => {
    const dir = await makeTempDir('owncdn-e2e-');
    const site = join(dir, 'site');
    await writeTree(site, { 'index.html': page('one'), 'about.html': page('one-about') });
    const sshd = await startSshd({ aliases: ['us-node'] });
    const httpPort = await findPortFreeOnAll(NODES.map((n) => n.ipv4));
    const httpsPort = await findPortFreeOnAll(NODES.map((n) => n.ipv4));
    const dnsPort = await findFreePort();
    const apiPort = await findFreePort();
    const tokenFile = join(dir, 'api.token');
    await writeFile(tokenFile, 'e2e-token\n', { mode: 0o600 });
    for (const node of NODES) await mkdir(join(dir, 'nodes', node.name), { recursive: true });

    // Pebble resolves the challenge names through geodns, which needs no Pebble: start geodns first.
    const pebbleHttpPort = httpPort;
    const configFor = (pebble: { directoryUrl: string; apiCaPath: string } | null) => `
site: { domain: example.test, names: [example.test, www.example.test], content: ${site} }
nodes:
${NODES.map(
  (n) => `  - name: ${n.name}
    ipv4: ${n.ipv4}
    continents: [${n.continents.join(', ')}]
    default: ${n.default}
    root: ${join(dir, 'nodes', n.name)}${n.name === 'us' ? '\n    ssh: us-node' : ''}`,
).join('\n')}
ssh: { config: ${sshd.clientConfig} }
origin: { http: ${httpPort}, https: ${httpsPort}, bind: node, workers: 1 }
dns:
  nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.1 }]
  ttl: 1
  listen: ["127.0.0.1:${dnsPort}"]
  workers: 1
  health: { interval: ${HEALTH.intervalMs}ms, timeout: 250ms, rise: ${HEALTH.rise}, fall: ${HEALTH.fall} }
  api: { listen: "127.0.0.1:${apiPort}", tokenFile: ${tokenFile} }
  rrl: { enabled: false }
certd:
  email: e2e@example.test
  directory: ${pebble?.directoryUrl ?? 'staging'}
  ${pebble ? `caCert: ${pebble.apiCaPath}` : ''}
  agreeTerms: true
  state: ${join(dir, 'certd')}
sync: { keep: 5, confirmTimeout: 15s }
`;
    const configPath = join(dir, 'owncdn.yaml');
    await writeFile(configPath, configFor(null));
    const owncdn = (args: string[], ready?: RegExp) =>
      startDaemon(
        process.execPath,
        [OWNCDN_BIN, ...args, '-c', configPath, '--log-format', 'json'],
        { ready, readyTimeoutMs: 30_000 },
      );
    const runOwncdn = async (args: string[]) => {
      const daemon = await owncdn(args);
      const status = await daemon.exited;
      return { status, output: daemon.output() };
    };

    const geodns = await owncdn(['geodns'], /"msg":"geodns listening"/);
    const origins = new Map<NodeName, Daemon>();
    const startOrigin = async (name: NodeName) =>
      origins.set(name, await owncdn(['origin', '--node', name], /"msg":"origin listening"/));
    await Promise.all(NODES.map((n) => startOrigin(n.name)));

    // 1. Publish the first release to every node (us over ssh).
    const first = await runOwncdn(['sync', 'push', '--json']);
    expect(first.status, first.output).toBe(0);
    const releaseOf = async (node: (typeof NODES)[number]) => {
      const response = await request(`http://${node.ipv4}:${httpPort}/healthz`);
      const body = (await response.body.json()) as { release?: string };
      return body.release ?? null;
    };
    const firstReleases = await Promise.all(NODES.map(releaseOf));
    expect(new Set(firstReleases).size).toBe(1);
    expect(firstReleases[0]).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]+$/);

    // 2. certd gets a certificate from Pebble over HTTP-01 and deploys it everywhere.
    const pebble = await startPebble({
      httpPort: pebbleHttpPort,
      dnsServer: `127.0.0.1:${dnsPort}`,
    });
    await writeFile(configPath, configFor(pebble));
    const certd = await runOwncdn(['certd', '--once']);
    expect(certd.status, certd.output).toBe(0);
    const root = await pebble.rootPem();
    const tls = new Agent({ connect: { ca: root, servername: 'www.example.test' } });
    const fetchPage = async (node: (typeof NODES)[number], path = '/') => {
      const response = await request(`https://${node.ipv4}:${httpsPort}${path}`, {
        dispatcher: tls,
        headers: { host: 'www.example.test' },
      });
      return {
        status: response.statusCode,
        node: response.headers['x-owncdn-node'],
        body: await response.body.text(),
      };
    };
    for (const node of NODES) {
      const served = await eventually(
        () =>
          fetchPage(node).catch((error: Error) => ({
            status: 0,
            node: undefined,
            body: error.message,
          })),
        (r) => r.status === 200,
        `HTTPS on ${node.name}`,
      );
      expect(served).toEqual({ status: 200, node: node.name, body: page('one') });
    }

    // 3. GeoDNS answers each continent with its node (ECS), and the default for the rest.
    const dig = async (subnet: string | null) => {
      const args = [
        '@127.0.0.1',
        '-p',
        String(dnsPort),
        'www.example.test',
        'A',
        '+short',
        '+time=1',
        '+tries=1',
        ...(subnet ? [`+subnet=${subnet}`] : []),
      ];
      return (await run('dig', args)).stdout.trim().split('\n').filter(Boolean).sort();
    };
    expect(await dig(SUBNETS.EU)).toEqual(['127.0.0.13']);
    expect(await dig(SUBNETS.NA)).toEqual(['127.0.0.12']);
    expect(await dig(SUBNETS.OC)).toEqual(['127.0.0.11']);
    expect(await dig(null)).toEqual(['127.0.0.11']); // 127.0.0.1 has no country: the default node

    // 4. Publish a change while a client reads every node: each response is one whole release.
    await writeTree(site, { 'index.html': page('two') });
    const seen = new Set<string>();
    let reading = true;
    const reader = (async () => {
      while (reading) {
        for (const node of NODES) {
          const r = await fetchPage(node);
          expect(r.status).toBe(200);
          seen.add(r.body);
        }
      }
    })();
    const second = await runOwncdn(['sync', 'push', '--json']);
    reading = false;
    await reader;
    expect(second.status, second.output).toBe(0);
    expect([...seen].every((body) => body === page('one') || body === page('two'))).toBe(true);
    for (const node of NODES) expect((await fetchPage(node)).body).toBe(page('two'));
    const secondReleases = await Promise.all(NODES.map(releaseOf));
    expect(new Set(secondReleases).size).toBe(1);
    expect(secondReleases[0]).not.toBe(firstReleases[0]);

    // 5. fr's origin stops: after `fall` failed probes Europe falls back to the default node.
    await origins.get('fr')?.stop();
    expect(
      await eventually(
        () => dig(SUBNETS.EU),
        (a) => a.join() === '127.0.0.11',
        'EU answer after fr stopped',
      ),
    ).toEqual(['127.0.0.11']);
    expect(await dig(SUBNETS.NA)).toEqual(['127.0.0.12']);
    const nodesResponse = await request(`http://127.0.0.1:${apiPort}/v1/nodes`, {
      headers: { authorization: 'Bearer e2e-token' },
    });
    const states = (await nodesResponse.body.json()) as { name: string; state: string }[];
    expect(states.map((s) => `${s.name}:${s.state}`).sort()).toEqual(['au:up', 'fr:down', 'us:up']);

    // 6. fr comes back: after `rise` good probes it answers for Europe again.
    await startOrigin('fr');
    expect(
      await eventually(
        () => dig(SUBNETS.EU),
        (a) => a.join() === '127.0.0.13',
        'EU answer after fr restarted',
      ),
    ).toEqual(['127.0.0.13']);

    // 7. Roll back: every node serves the first release again.
    const rollback = await runOwncdn(['sync', 'rollback', '--json']);
    expect(rollback.status, rollback.output).toBe(0);
    for (const node of NODES) {
      expect(
        await eventually(
          () => fetchPage(node).then((r) => r.body),
          (b) => b === page('one'),
          `rollback on ${node.name}`,
        ),
      ).toBe(page('one'));
    }
    expect(await Promise.all(NODES.map(releaseOf))).toEqual(firstReleases);
    expect(await readFile(join(dir, 'nodes', 'au', 'current', 'index.html'), 'utf8')).toBe(
      page('one'),
    );

    await tls.close();
    await geodns.stop();
  });
});
