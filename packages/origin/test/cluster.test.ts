import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../../../test/support/process.js';
import { makeSite } from '../../../test/support/tmp.js';
import {
  createRecordingLogger,
  makeNodeRoot,
  nodeConfig,
  rawRequest,
  serveNode,
  start,
  statusOf,
} from './helpers.js';
import type { RecordingLogger } from './helpers.js';

const OWNCDN_BIN = join(import.meta.dirname, '../../cli/bin/owncdn.js');

/** PIDs of this process's children running the origin worker entry. */
function workerChildren(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], {
    encoding: 'utf8',
  });
  return out
    .split('\n')
    .filter((line) => line.includes('origin/dist/worker.js'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

function metric(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(line));
  return Number(found?.slice(line.length).trim() ?? Number.NaN);
}

describe('cluster workers', () => {
  it('serves from two workers, sums their counters in /metrics on the admin listener, and stops them all on close', async () => {
    const dir = await makeSite({ 'index.html': '<h1>clustered</h1>' });
    const log = createRecordingLogger();
    const origin = await start(
      { dir, listen: '127.0.0.1:0', workers: 2, admin: '127.0.0.1:0' },
      log,
    );
    expect(workerChildren()).toHaveLength(2);
    expect(log.records.filter((r) => r.msg === 'origin listening')).toHaveLength(1);
    expect(
      log.records
        .filter((r) => r.msg === 'release activated')
        .map((r) => r.obj.worker)
        .sort(),
    ).toEqual([1, 2]);
    const address = origin.address.http[0] ?? '';
    // Fresh connections, so the primary spreads them over both workers.
    for (let i = 0; i < 10; i++) {
      const response = await rawRequest(
        address,
        'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      expect(statusOf(response)).toBe(200);
      expect(response).toContain('<h1>clustered</h1>');
    }
    // With an admin listener, /healthz is not on the public one.
    expect(
      statusOf(
        await rawRequest(address, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      ),
    ).toBe(404);
    const admin = `http://${origin.address.admin ?? ''}`;
    const health = await request(`${admin}/healthz`);
    expect(await health.body.json()).toMatchObject({ status: 'ok', files: 1 });
    const metrics = await (await request(`${admin}/metrics`)).body.text();
    // The ten pages and the /healthz above, whichever worker answered them.
    expect(metric(metrics, 'owncdn_http_requests_total{class="2xx"}')).toBe(11);
    expect(metric(metrics, 'owncdn_http_requests_total{class="4xx"}')).toBe(1);
    expect(metric(metrics, 'owncdn_origin_workers')).toBe(2);

    // A worker that dies is replaced; the others keep serving meanwhile.
    const [victim] = workerChildren();
    process.kill(victim ?? 0, 'SIGKILL');
    await log.waitFor('origin worker replaced');
    expect(
      log.records.some(
        (r) => r.msg === 'origin worker died: starting another' && r.level === 'error',
      ),
    ).toBe(true);
    const survivors = workerChildren();
    expect(survivors).toHaveLength(2);
    expect(survivors).not.toContain(victim);
    expect(
      statusOf(await rawRequest(address, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')),
    ).toBe(200);

    await origin.close();
    expect(workerChildren()).toEqual([]);
    await expect(rawRequest(address, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });
});

/** Bodies of `count` requests on fresh connections (the primary spreads them over the workers). */
async function bodies(address: string, path: string, count: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < count; i++) {
    const response = await rawRequest(
      address,
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    out.add(response.slice(response.indexOf('\r\n\r\n') + 4));
  }
  return out;
}

/** Waits for 'release activated' (after record `skip`, passing `test`) from two different workers. */
async function activatedInBoth(
  log: RecordingLogger,
  skip: number,
  test: (obj: Record<string, unknown>) => boolean = () => true,
): Promise<void> {
  const first = await log.waitFor('release activated', test, skip);
  await log.waitFor('release activated', (o) => test(o) && o.worker !== first.obj.worker, skip);
}

describe('cluster reloads', () => {
  it('passes the primary’s file events to every worker in --dir mode', async () => {
    const dir = await makeSite({ 'index.html': 'one' });
    const log = createRecordingLogger();
    const origin = await start({ dir, listen: '127.0.0.1:0', workers: 2 }, log);
    const address = origin.address.http[0] ?? '';
    expect(await bodies(address, '/', 6)).toEqual(new Set(['one']));
    const seen = log.records.length;
    await writeFile(join(dir, 'index.html'), 'two');
    await activatedInBoth(log, seen);
    expect(await bodies(address, '/', 6)).toEqual(new Set(['two']));
  });

  it('switches every worker to a new release in node mode', async () => {
    const node = await makeNodeRoot();
    await node.addRelease('r1', { 'index.html': 'first' });
    await node.addRelease('r2', { 'index.html': 'second' });
    await node.activate('r1');
    const log = createRecordingLogger();
    const { origin } = await serveNode(nodeConfig(node.root), { workers: 2 }, log);
    const address = origin.address.http[0] ?? '';
    expect(await bodies(address, '/', 6)).toEqual(new Set(['first']));
    await node.activate('r2');
    await activatedInBoth(log, 0, (o) => o.release === 'r2');
    expect(await bodies(address, '/', 6)).toEqual(new Set(['second']));
  });
});

describe('owncdn origin (the command)', () => {
  it('serves a directory, logs origin listening once, and exits 0 on SIGTERM', async () => {
    const dir = await makeSite({ 'index.html': 'from the cli' });
    const daemon = await startDaemon(
      process.execPath,
      [
        OWNCDN_BIN,
        'origin',
        '--dir',
        dir,
        '--listen',
        '127.0.0.1:0',
        '--workers',
        '1',
        '--log-format',
        'json',
      ],
      { ready: /"msg":"origin listening"/ },
    );
    const line =
      daemon
        .output()
        .split('\n')
        .find((l) => l.includes('"origin listening"')) ?? '{}';
    const listening = JSON.parse(line) as {
      http: string;
      https: string | null;
      node: string | null;
    };
    expect(listening.https).toBeNull();
    const response = await request(`http://${listening.http}/`);
    expect(await response.body.text()).toBe('from the cli');
    expect(await daemon.stop('SIGTERM')).toBe(0);
    expect(daemon.output().match(/origin listening/g)).toHaveLength(1);
  });

  it('refuses --node and --dir together with a usage error', async () => {
    const daemon = await startDaemon(process.execPath, [
      OWNCDN_BIN,
      'origin',
      '--dir',
      '.',
      '--node',
      'au',
    ]);
    expect(await daemon.exited).toBe(2);
    expect(daemon.output()).toContain(
      'owncdn: origin needs either a node (--node au) or a directory (--dir ./public), not both or neither',
    );
  });
});
