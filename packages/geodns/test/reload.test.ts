import { describe, expect, test } from 'vitest';
import { api, dig, editZone, healthyZone, startTestServer } from './helpers.js';

// Reload (issue #4, "What must work" 5): a changed owncdn.yaml is validated
// and swapped in whole; a bad one keeps the previous data and says why.

describe('reload', () => {
  test('an edited owncdn.yaml is picked up by the watcher', async () => {
    const { files } = await healthyZone();
    const { port, log } = await startTestServer(files);
    expect((await dig(port, ['new.example.org', 'A'])).status).toBe('NXDOMAIN');
    await editZone(files, (text) =>
      text.replace('  records:\n', '  records:\n    - { name: new, type: A, value: 192.0.2.77 }\n'),
    );
    await log.waitFor(/^configuration reloaded$/);
    expect((await dig(port, ['new.example.org', 'A'])).answer).toEqual([
      'new.example.org. 3600 IN A 192.0.2.77',
    ]);
  });

  test('a broken file keeps the previous data, logs every problem at error, and a fixed one is taken', async () => {
    const { files } = await healthyZone();
    const { port, log, geodns } = await startTestServer(files, { watch: false });
    await api(`http://${geodns.address.api}`, 'PUT', '/v1/txt/_acme-challenge.example.org', {
      token: files.token,
      body: { value: 'kept' },
    });
    await editZone(files, (text) =>
      text.replace('continents: [NA]', 'continents: [NAM]').replace('ttl: 30', 'ttl: thirty'),
    );
    expect(await geodns.reload()).toBe(false);
    const failed = log.lines.find(
      (l) => l.msg === 'reload failed, still serving the previous configuration',
    );
    expect(failed?.level).toBe('error');
    expect(String(failed?.obj.error)).toMatch(
      /owncdn\.yaml:\d+ nodes\[1\]\.continents\[0\]: "NAM" is not a continent code/,
    );
    expect(String(failed?.obj.error)).toMatch(/owncdn\.yaml:\d+ dns\.ttl: "thirty"/);
    // Still serving: the nodes, the static records and the TXT value set through the API.
    expect((await dig(port, ['www.example.org', 'A', '+subnet=8.8.8.0/24'])).answer).toEqual([
      'www.example.org. 30 IN A 127.0.0.12',
    ]);
    expect((await dig(port, ['_acme-challenge.example.org', 'TXT'])).answer).toEqual([
      '_acme-challenge.example.org. 30 IN TXT "kept"',
    ]);

    await editZone(files, (text) =>
      text.replace('continents: [NAM]', 'continents: [NA, SA]').replace('ttl: thirty', 'ttl: 45'),
    );
    expect(await geodns.reload()).toBe(true);
    expect((await dig(port, ['www.example.org', 'A', '+subnet=200.160.0.0/24'])).answer).toEqual([
      'www.example.org. 45 IN A 127.0.0.12',
      'www.example.org. 45 IN A 127.0.0.13',
    ]);
    // DNS-01 values survive a reload.
    expect((await dig(port, ['_acme-challenge.example.org', 'TXT'])).answer).toHaveLength(1);
    const metrics = (await api(`http://${geodns.address.api}`, 'GET', '/metrics')).text;
    expect(metrics).toContain('owncdn_geodns_reloads_total{result="ok"} 1');
    expect(metrics).toContain('owncdn_geodns_reloads_total{result="failed"} 1');
  });

  test('a missing geo database keeps the previous one', async () => {
    const { files } = await healthyZone();
    const { port, log, geodns } = await startTestServer(files, { watch: false });
    await editZone(files, (text) => `${text}  geoip: ./missing.mmdb\n`);
    expect(await geodns.reload()).toBe(false);
    expect(String(log.lines.find((l) => l.level === 'error')?.obj.error)).toMatch(
      /^geo database .*missing\.mmdb cannot be read \(ENOENT\)/,
    );
    expect((await dig(port, ['www.example.org', 'A', '+subnet=81.2.69.0/24'])).answer).toEqual([
      'www.example.org. 30 IN A 127.0.0.13',
    ]);
  });
});
