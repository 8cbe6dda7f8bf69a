import { Resolver } from 'node:dns/promises';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createSilentLogger, OwncdnError } from '@owncdn/core';
import { startGeodns } from '@owncdn/geodns';
import { describe, expect, it } from 'vitest';
import { findFreePort } from '../../../test/support/ports.js';
import { servedSerial } from '../src/deploy.js';
import { readState, runCertdOnce } from '../src/index.js';
import {
  NODE_ADDRESSES,
  cleanup,
  labConfig,
  makeLabDirs,
  memoryLogger,
  startLab,
  startOrigins,
  testOptions,
} from './helpers.js';

const API_TOKEN = 'geodns-api-token-that-must-never-be-logged';
const WILDCARD = `  challenge: dns-01
  certificates:
    - { name: example.test, names: [example.test, "*.example.test"] }
`;

/** geodns (its DNS on 127.0.0.1:<port>, its API on another port) as ns1, and Pebble resolving through it. */
async function startDnsLab(extraNameserver = '') {
  const dirs = await makeLabDirs();
  const apiPort = await findFreePort();
  const tokenFile = join(dirs.dir, 'geodns-api.token');
  await writeFile(tokenFile, `${API_TOKEN}\n`, { mode: 0o600 });
  const dns = `dns:
  nameservers:
    - { name: ns1.example.test, ipv4: 127.0.0.1, api: "http://127.0.0.1:${apiPort}" }
${extraNameserver}  api: { listen: "127.0.0.1:${apiPort}", tokenFile: ${tokenFile} }
`;
  const geoConfig = await labConfig(dirs, { dns });
  const options = {
    log: createSilentLogger(),
    listen: ['127.0.0.1:0'],
    apiListen: `127.0.0.1:${apiPort}`,
    workers: 1,
    watch: false,
  };
  // geodns binds UDP port 0, then TCP on the same number, which an outgoing
  // connection may hold: start again on that EADDRINUSE (reported to geodns).
  const geodns = await startGeodns(geoConfig, options).catch((error: unknown) => {
    if (error instanceof OwncdnError && /EADDRINUSE/.test(error.message))
      return startGeodns(geoConfig, options);
    throw error;
  });
  cleanup(() => geodns.close());
  const dnsAddress = geodns.address.dns[0] ?? '';
  const lab = await startLab({ dirs, dnsServer: dnsAddress });
  const config = await labConfig(lab, { dns, certd: WILDCARD });
  return { lab, config, dnsPort: Number(dnsAddress.split(':').at(-1)) };
}

describe('DNS-01 through the geodns API', () => {
  it('obtains a wildcard certificate: TXT set on the nameserver and checked before the CA is told, then deleted', async () => {
    const { lab, config, dnsPort } = await startDnsLab();
    await startOrigins(config);
    const logs = memoryLogger();
    const result = await runCertdOnce(config, testOptions(logs.log, { dnsPort }));
    expect(result).toMatchObject({
      ok: true,
      certificates: [{ issued: true, error: null, nodesBehind: [] }],
    });
    const current = (await readState(lab.stateDir)).certificates['example.test']?.current;
    expect([...(current?.names ?? [])].sort()).toEqual(['*.example.test', 'example.test']);
    for (const address of NODE_ADDRESSES) {
      expect(
        (await servedSerial(address, lab.httpsPort, 'anything.example.test', 2_000)).serial,
      ).toBe(current?.serial);
    }
    expect(
      logs.lines().find((l) => l.msg === 'challenges ready on every node; asking the CA'),
    ).toMatchObject({
      challenge: 'dns-01',
      names: expect.arrayContaining(['example.test', '*.example.test']),
    });
    expect(logs.text()).not.toContain(API_TOKEN);
    expect(logs.text()).not.toContain('could not delete');
    const resolver = new Resolver();
    resolver.setServers([`127.0.0.1:${dnsPort}`]);
    await expect(resolver.resolveTxt('_acme-challenge.example.test')).rejects.toMatchObject({
      code: expect.stringMatching(/^(ENODATA|ENOTFOUND)$/),
    });
  });

  it('fails naming the nameserver that does not answer the TXT, without telling the CA', async () => {
    // ns2's API accepts the record but nothing answers DNS at its address.
    const api = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    cleanup(() => new Promise((resolve) => api.close(resolve)));
    const address = api.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const { lab, config, dnsPort } = await startDnsLab(
      `    - { name: ns2.example.test, ipv4: 127.0.0.2, api: "http://127.0.0.1:${port}" }\n`,
    );
    const result = await runCertdOnce(
      config,
      testOptions(memoryLogger().log, {
        dnsPort,
        timings: { checkAttempts: 3, checkIntervalMs: 20 },
      }),
    );
    expect(result.ok).toBe(false);
    expect(result.certificates[0]?.error).toMatch(
      /^check the DNS-01 TXT failed on ns2\.example\.test: does not answer the TXT for _acme-challenge\.example\.test: .* \(the CA was not asked to validate\)$/,
    );
    expect(lab.pebble.daemon.output()).not.toMatch(/POST \/chalZ\//);
  });
});
