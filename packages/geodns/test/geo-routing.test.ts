import { copyFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Packet } from 'dns2';
import { describe, expect, test } from 'vitest';
import { computeClasses } from '../src/select.js';
import {
  bundledDatabasePath,
  createGeoIndex,
  createGeoResult,
  loadGeoTable,
  lookupV4,
} from '../src/geo.js';
import {
  SUBNETS,
  buildQuery,
  dig,
  ecsOption,
  healthyZone,
  startTestServer,
  udpExchange,
} from './helpers.js';

// Geo routing (issue #4, "What must work" 2): ECS when present and global,
// else the source; continent → nodes; the ECS option echoed with its scope.

describe('geo routing', () => {
  test('ECS from each continent gets that continent’s node, with the scope of its class run', async () => {
    const { files } = await healthyZone();
    const { port, config } = await startTestServer(files);
    const index = createGeoIndex(await loadGeoTable(null), computeClasses(config).classOf);
    const expected = {
      EU: '127.0.0.13',
      AF: '127.0.0.13',
      SA: '127.0.0.13',
      NA: '127.0.0.12',
      OC: '127.0.0.11',
      AS: '127.0.0.11',
    };
    for (const [continent, subnet] of Object.entries(SUBNETS)) {
      const r = await dig(port, ['www.example.org', 'A', `+subnet=${subnet}`]);
      expect(r.answer, continent).toEqual([
        `www.example.org. 30 IN A ${expected[continent as keyof typeof expected]}`,
      ]);
      const [address = '', source] = subnet.split('/');
      const result = createGeoResult();
      lookupV4(index, address.split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0, result);
      expect(r.subnet, continent).toBe(`${address}/${source}/${result.scope}`);
      expect(result.scope).toBeGreaterThan(0);
    }
    // A number to hold on to: 8.8.8.8 is a /15 in the database, merged with its US neighbours into /14.
    expect((await dig(port, ['example.org', 'A', '+subnet=8.8.8.0/24'])).subnet).toBe(
      '8.8.8.0/24/14',
    );
  });

  test('IPv6 ECS routes too; AAAA comes from the chosen nodes only', async () => {
    const { files } = await healthyZone();
    const { port } = await startTestServer(files);
    const eu = await dig(port, ['www.example.org', 'AAAA', '+subnet=2a00:1450::/32']);
    expect(eu.answer).toEqual(['www.example.org. 30 IN AAAA 2001:db8::13']);
    expect(eu.subnet).toMatch(/^2a00:1450::\/32\/\d+$/);
    // The US node has no IPv6: a North American client gets NODATA for AAAA, not another continent's node.
    const na = await dig(port, ['www.example.org', 'AAAA', '+subnet=2001:4860::/32']);
    expect(na.status).toBe('NOERROR');
    expect(na.answer).toEqual([]);
    expect((await dig(port, ['www.example.org', 'A', '+subnet=2001:4860::/32'])).answer).toEqual([
      'www.example.org. 30 IN A 127.0.0.12',
    ]);
  });

  test('private, documentation and /0 subnets are ignored: the source decides and the scope is 0', async () => {
    const { files } = await healthyZone();
    const { port } = await startTestServer(files);
    for (const subnet of [
      '10.1.2.0/24',
      '192.168.1.0/24',
      '127.0.0.0/8',
      '198.51.100.0/24',
      'fd00::/48',
      '2001:db8::/48',
      '0.0.0.0/0',
    ]) {
      const r = await dig(port, ['www.example.org', 'A', `+subnet=${subnet}`]);
      // The source is 127.0.0.1: unknown continent, so the default node.
      expect(r.answer, subnet).toEqual(['www.example.org. 30 IN A 127.0.0.11']);
      expect(r.subnet, subnet).toMatch(/\/0$/);
    }
  });

  test('answers that do not depend on the client echo ECS with scope 0', async () => {
    const { files } = await healthyZone();
    const { port } = await startTestServer(files);
    const mx = await dig(port, ['example.org', 'MX', '+subnet=81.2.69.0/24']);
    expect(mx.subnet).toBe('81.2.69.0/24/0');
    const nx = await dig(port, ['nope.example.org', 'A', '+subnet=81.2.69.0/24']);
    expect(nx.status).toBe('NXDOMAIN');
    expect(nx.subnet).toBe('81.2.69.0/24/0');
    // The option comes back byte for byte but the scope (RFC 7871 §7.2.1).
    const option = ecsOption('81.2.69.0/24');
    const reply = (await udpExchange(
      port,
      buildQuery('www.example.org', { edns: { options: [option] } }),
    ))!;
    const tail = reply.subarray(reply.length - option.length);
    expect(tail.subarray(0, 7)).toEqual(option.subarray(0, 7));
    expect(tail[7]).toBeGreaterThan(0);
    expect(tail.subarray(8)).toEqual(option.subarray(8));
    expect(Packet.parse(reply).answers[0]).toMatchObject({ address: '127.0.0.13' });
  });

  test('a replaced database file is picked up without a restart', async () => {
    const { files } = await healthyZone('  geoip: ./geo.mmdb');
    const dir = files.dir;
    const ipv4Only = join(bundledDatabasePath(), '..', 'geo-whois-asn-country-ipv4.mmdb');
    const ipv6Only = join(bundledDatabasePath(), '..', 'geo-whois-asn-country-ipv6.mmdb');
    await copyFile(ipv4Only, join(dir, 'geo.mmdb'));
    const { port, log } = await startTestServer(files);
    expect((await dig(port, ['www.example.org', 'A', '+subnet=81.2.69.0/24'])).answer).toEqual([
      'www.example.org. 30 IN A 127.0.0.13',
    ]);
    // Replace it the safe way (write beside, rename over) with a database that knows no IPv4 network.
    await copyFile(ipv6Only, join(dir, 'geo.mmdb.new'));
    await rename(join(dir, 'geo.mmdb.new'), join(dir, 'geo.mmdb'));
    await log.waitFor(/^configuration reloaded$/);
    const after = await dig(port, ['www.example.org', 'A', '+subnet=81.2.69.0/24']);
    expect(after.answer).toEqual(['www.example.org. 30 IN A 127.0.0.11']);
  });
});
