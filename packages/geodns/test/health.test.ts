import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@owncdn/core';
import { describe, expect, test, onTestFinished } from 'vitest';
import { makeTempDir } from '../../../test/support/tmp.js';
import { HealthChecker } from '../src/health.js';
import type { StateChange } from '../src/health.js';
import { SUBNETS, dig, healthyZone, startTestServer, writeZone } from './helpers.js';

const run = promisify(execFile);

// Health checks (issue #4, "What must work" 3): a stopped node leaves the
// answers after `fall` failed probes and comes back after `rise` good ones,
// every change logged with its reason.

describe('health checks', () => {
  test('a stopped node leaves the answers after fall probes and returns after rise', async () => {
    const { origins, files } = await healthyZone();
    const { port, log } = await startTestServer(files, {
      healthTiming: { intervalMs: 30, timeoutMs: 500, jitter: 0, rise: 2, fall: 3 },
    });
    const eu = ['www.example.org', 'A', `+subnet=${SUBNETS.EU}`];
    expect((await dig(port, eu)).answer).toEqual(['www.example.org. 30 IN A 127.0.0.13']);
    expect(origins.fr.lastPath).toBe('/healthz');

    await origins.fr.stop();
    const down = await log.waitFor(/^node fr down/);
    expect(down.msg).toBe('node fr down: 3 probes failed: connect ECONNREFUSED');
    expect(down.level).toBe('info');
    // EU's only node is down: the default node (au) answers Europe.
    expect((await dig(port, eu)).answer).toEqual(['www.example.org. 30 IN A 127.0.0.11']);

    await origins.fr.start();
    const up = await log.waitFor(/^node fr up/);
    expect(up.msg).toBe('node fr up: 2 probes succeeded');
    expect((await dig(port, eu)).answer).toEqual(['www.example.org. 30 IN A 127.0.0.13']);
  });

  test('503 and hung origins count as failures, with the reason logged; all down means all answered', async () => {
    const { origins, files } = await healthyZone();
    const { port, log } = await startTestServer(files, {
      healthTiming: { intervalMs: 30, timeoutMs: 1_000, jitter: 0, rise: 1, fall: 2 },
    });
    origins.us.healthy = false;
    expect((await log.waitFor(/^node us down/)).msg).toBe(
      'node us down: 2 probes failed: HTTP 503',
    );
    origins.au.hang = true;
    expect((await log.waitFor(/^node au down/)).msg).toBe(
      'node au down: 2 probes failed: timeout after 1000 ms',
    );
    // North America: us is down, the default (au) is down, so any healthy node: fr.
    expect((await dig(port, ['www.example.org', 'A', `+subnet=${SUBNETS.NA}`])).answer).toEqual([
      'www.example.org. 30 IN A 127.0.0.13',
    ]);
    await origins.fr.stop();
    await log.waitFor(/^node fr down/);
    // Nothing healthy: every node, never an empty answer.
    expect((await dig(port, ['www.example.org', 'A', `+subnet=${SUBNETS.NA}`])).answer).toEqual([
      'www.example.org. 30 IN A 127.0.0.11',
      'www.example.org. 30 IN A 127.0.0.12',
      'www.example.org. 30 IN A 127.0.0.13',
    ]);
  });

  test('a fresh server answers with every node at once, before any probe finished', async () => {
    // Nothing listens on the node ports: probes will fail, but only after fall of them.
    const files = await writeZone({});
    const { port } = await startTestServer(files, {
      healthTiming: { intervalMs: 60_000, timeoutMs: 500, jitter: 0, fall: 3 },
    });
    expect((await dig(port, ['www.example.org', 'A', `+subnet=${SUBNETS.EU}`])).answer).toEqual([
      'www.example.org. 30 IN A 127.0.0.13',
    ]);
  });

  test('https probes send SNI = site.domain and accept a certificate they cannot verify', async () => {
    const dir = await makeTempDir();
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=example.org',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    const snis: string[] = [];
    const server = createServer(
      { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) },
      (req, res) => {
        snis.push((req.socket as TLSSocket).servername || '');
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"status":"ok","node":"fr","release":"r1"}');
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.13', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const address = server.address();
    const httpsPort = typeof address === 'object' && address ? address.port : 0;
    const files = await writeZone({});
    const text = (await readFile(files.file, 'utf8'))
      .replace('path: /healthz,', 'path: /healthz, scheme: https,')
      .replace(/(name: fr, .*?) http: \d+ }/, `$1 https: ${httpsPort} }`);
    await writeFile(files.file, text);
    const config = await loadConfig(files.file);
    const changes: StateChange[] = [];
    let frProbes = 0;
    let twoProbes = () => undefined as void;
    const probed = new Promise<void>((resolve) => (twoProbes = resolve));
    const checker = new HealthChecker(config, {
      onChange: (c) => changes.push(c),
      onProbe: (node) => {
        if (node === 'fr' && ++frProbes === 2) twoProbes();
      },
      timing: { intervalMs: 20, timeoutMs: 500, jitter: 0 },
    });
    onTestFinished(() => checker.close());
    await probed;
    const fr = checker.status().find((s) => s.name === 'fr')!;
    expect(fr.probes.url).toBe(`https://127.0.0.13:${httpsPort}/healthz`);
    expect(fr.probes.last).toMatchObject({
      ok: true,
      detail: 'HTTP 200',
      body: { status: 'ok', node: 'fr' },
    });
    expect(fr.state).toBe('up');
    expect(snis[0]).toBe('example.org');
    expect(changes.filter((c) => c.node === 'fr')).toEqual([]);
  });
});
