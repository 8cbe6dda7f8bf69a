import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { queryA } from '../packages/cli/src/demo/dns-query.js';
import { OWNCDN_BIN } from '../packages/cli/test/run-cli.js';
import { isAlive, startDaemon } from './support/process.js';
import { makeTempDir } from './support/tmp.js';

interface DemoReady {
  ready: true;
  dir: string;
  dns: string;
  name: string;
  https: boolean;
  nodes: { name: string; ipv4: string; http: number; https: number; pid: number }[];
  pids: { name: string; pid: number }[];
}

/** PIDs of live processes whose command line mentions `text` (to prove none outlived the demo). */
async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(join('/proc', entry, 'cmdline'), 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(Number(entry));
  }
  return found;
}

describe('owncdn demo', () => {
  it('runs three regions with correct answers and leaves no process behind on Ctrl-C', async () => {
    const dir = await makeTempDir('owncdn-demo-');
    const demo = await startDaemon(process.execPath, [OWNCDN_BIN, 'demo', '--dir', dir, '--json'], {
      ready: /"ready":true/,
      readyTimeoutMs: 90_000,
    });
    const line =
      demo
        .output()
        .split('\n')
        .find((l) => l.includes('"ready":true')) ?? '';
    const ready = JSON.parse(line) as DemoReady;
    expect(ready.nodes.map((n) => `${n.name}@${n.ipv4}`)).toEqual([
      'au@127.0.0.11',
      'us@127.0.0.12',
      'fr@127.0.0.13',
    ]);
    const children = ready.pids.map((p) => p.pid);
    expect(children.length).toBeGreaterThanOrEqual(4); // geodns and three origins (+ Pebble when installed)
    for (const pid of children) expect(isAlive(pid)).toBe(true);

    // GeoDNS: Europe → fr, North America → us, Oceania → au.
    const [host = '', port = '0'] = ready.dns.split(':');
    expect(await queryA(host, Number(port), ready.name, '81.2.69.0/24')).toEqual(['127.0.0.13']);
    expect(await queryA(host, Number(port), ready.name, '8.8.8.0/24')).toEqual(['127.0.0.12']);
    expect(await queryA(host, Number(port), ready.name, '1.1.1.0/24')).toEqual(['127.0.0.11']);

    // Each origin serves the example site and says who it is.
    for (const node of ready.nodes) {
      const response = await request(`http://${node.ipv4}:${node.http}/healthz`);
      expect(response.statusCode).toBe(200);
      expect(((await response.body.json()) as { node: string }).node).toBe(node.name);
    }

    // Ctrl-C: the demo stops every process it started and exits 0.
    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(0);
    for (const pid of children) expect(isAlive(pid), `pid ${pid} survived`).toBe(false);
    expect(await processesMentioning(dir)).toEqual([]);
  });
});
