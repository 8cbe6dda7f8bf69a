import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { isAlive, startDaemon } from '../../../test/support/process.js';
import { SUBNETS, api, dig, editZone, healthyZone } from './helpers.js';

// `owncdn geodns` as the demo and the end-to-end tests run it: a process,
// readiness from its `geodns listening` line, several cluster workers.

const OWNCDN = join(dirname(fileURLToPath(import.meta.url)), '../../cli/bin/owncdn.js');

interface ListeningLine {
  dns: string[];
  api: string | null;
  msg: string;
}

/** PIDs of the processes whose parent is `pid` (the cluster workers), from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === pid ? [Number(entry)] : [];
      } catch {
        // The process ended while we looked.
        return [];
      }
    });
}

function parseListening(output: string): ListeningLine {
  const line = output.split('\n').find((l) => l.includes('"geodns listening"'));
  if (!line) throw new Error(`no geodns listening line in:\n${output}`);
  return JSON.parse(line) as ListeningLine;
}

describe('owncdn geodns', () => {
  test('two workers on port 0: the listening line names the port, queries and reloads work, SIGTERM stops all', async () => {
    const { files } = await healthyZone();
    const daemon = await startDaemon(
      process.execPath,
      [
        OWNCDN,
        'geodns',
        '-c',
        files.file,
        '--listen',
        '127.0.0.1:0',
        '--api-listen',
        '127.0.0.1:0',
        '--workers',
        '2',
        '--log-format',
        'json',
      ],
      { ready: /"msg":"geodns listening"/ },
    );
    const listening = parseListening(daemon.output());
    expect(listening.dns).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
    expect(listening.api).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(daemon.output().match(/geodns listening/g)).toHaveLength(1);
    const port = Number(listening.dns[0]!.split(':')[1]);

    // Both workers answer: enough queries over UDP and TCP land on each.
    for (let i = 0; i < 6; i++) {
      expect(
        (
          await dig(port, [
            'www.example.org',
            'A',
            `+subnet=${SUBNETS.NA}`,
            ...(i % 2 ? ['+tcp'] : []),
          ])
        ).answer,
      ).toEqual(['www.example.org. 30 IN A 127.0.0.12']);
    }
    const metrics = (await api(`http://${listening.api}`, 'GET', '/metrics')).text;
    expect(metrics).toContain('owncdn_geodns_workers 2');
    expect(metrics).toContain('owncdn_geodns_queries_total{qtype="A",rcode="NOERROR"} 6');

    // The API's TXT values reach every worker before the 204.
    await api(`http://${listening.api}`, 'PUT', '/v1/txt/_acme-challenge.example.org', {
      token: files.token,
      body: { value: 'from-cli' },
    });
    for (let i = 0; i < 4; i++) {
      expect((await dig(port, ['_acme-challenge.example.org', 'TXT'])).answer).toEqual([
        '_acme-challenge.example.org. 30 IN TXT "from-cli"',
      ]);
    }

    // SIGHUP reloads: a bad file keeps serving, a good one is taken.
    await editZone(files, (text) => text.replace('continents: [NA]', 'continents: [NA, SA]'));
    daemon.child.kill('SIGHUP');
    await daemon.waitFor(/"msg":"configuration reloaded"/);
    expect((await dig(port, ['www.example.org', 'A', `+subnet=${SUBNETS.SA}`])).answer).toEqual([
      'www.example.org. 30 IN A 127.0.0.12',
      'www.example.org. 30 IN A 127.0.0.13',
    ]);

    // A worker that dies is replaced, and the replacement serves the current data.
    const workers = childrenOf(daemon.pid);
    expect(workers).toHaveLength(2);
    process.kill(workers[0]!, 'SIGKILL');
    await daemon.waitFor(/"msg":"geodns worker replaced"/);
    expect(childrenOf(daemon.pid)).toHaveLength(2);
    for (let i = 0; i < 4; i++) {
      expect((await dig(port, ['_acme-challenge.example.org', 'TXT'])).answer).toEqual([
        '_acme-challenge.example.org. 30 IN TXT "from-cli"',
      ]);
    }

    expect(await daemon.stop('SIGTERM')).toBe(0);
    for (const pid of [...workers, ...childrenOf(daemon.pid)]) expect(isAlive(pid)).toBe(false);
  });

  test('a config with problems exits non-zero with each problem and its line', async () => {
    const { files } = await healthyZone();
    await editZone(files, (text) => text.replace('continents: [NA]', 'continents: [NAM]'));
    const daemon = await startDaemon(
      process.execPath,
      [OWNCDN, 'geodns', '-c', files.file, '--listen', '127.0.0.1:0'],
      {},
    );
    expect(await daemon.exited).not.toBe(0);
    expect(daemon.output()).toMatch(
      /owncdn\.yaml:\d+ nodes\[1\]\.continents\[0\]: "NAM" is not a continent code/,
    );
  });
});
