import { X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startChallTestSrv, startPebble } from './pebble.js';
import { isAlive } from './process.js';

describe('startChallTestSrv', () => {
  it('answers the A records it was given and nothing for AAAA', async () => {
    const srv = await startChallTestSrv({ a: { 'example.test': ['127.0.0.11', '127.0.0.12'] } });
    const resolver = new Resolver();
    resolver.setServers([srv.dnsServer]);
    expect((await resolver.resolve4('example.test')).sort()).toEqual(['127.0.0.11', '127.0.0.12']);
    await expect(resolver.resolve6('example.test')).rejects.toMatchObject({ code: 'ENODATA' });
    await srv.setTxt('_acme-challenge.example.test', 'v1');
    expect(await resolver.resolveTxt('_acme-challenge.example.test')).toEqual([['v1']]);
    await srv.close();
    expect(isAlive(srv.daemon.pid)).toBe(false);
  });
});

describe('startPebble', () => {
  it('serves its directory over TLS signed by the throwaway CA, with the test environment', async () => {
    const pebble = await startPebble({ httpPort: 5002, dnsServer: '127.0.0.1:53' });
    const agent = new Agent({ connect: { ca: pebble.apiCaPem } });
    try {
      const response = await request(pebble.directoryUrl, { dispatcher: agent });
      const directory: unknown = await response.body.json();
      expect(response.statusCode).toBe(200);
      expect(directory).toMatchObject({
        newAccount: expect.stringContaining('https://127.0.0.1:'),
        newOrder: expect.any(String),
      });
      // Without the CA the API is untrusted: proof the test CA is what makes it work.
      await expect(request(pebble.directoryUrl)).rejects.toThrow(
        /self[- ]signed|unable to (get|verify)/i,
      );
    } finally {
      await agent.close();
    }
    const out = pebble.daemon.output();
    expect(out).toContain('Using custom DNS resolver for ACME challenges: 127.0.0.1:53');
    expect(out).toContain('Disabling random VA sleeps');
    expect(out).toContain('Configured to reject 0% of good nonces');
    expect(out).toContain('Configured to attempt authz reuse for each identifier 0% of the time');
    await pebble.close();
    expect(isAlive(pebble.pid)).toBe(false);
  });

  it('issues from a new root on every start, and takes env and validity overrides', async () => {
    const a = await startPebble({ httpPort: 5002, dnsServer: '127.0.0.1:53' });
    const b = await startPebble({
      httpPort: 5002,
      dnsServer: '127.0.0.1:53',
      env: { PEBBLE_WFE_NONCEREJECT: '5' },
      certValiditySeconds: 600,
    });
    const [rootA, rootB] = [
      new X509Certificate(await a.rootPem()),
      new X509Certificate(await b.rootPem()),
    ];
    expect(rootA.subject).toMatch(/Pebble Root CA/);
    expect(rootA.ca).toBe(true);
    expect(rootA.fingerprint256).not.toBe(rootB.fingerprint256);
    expect(b.daemon.output()).toContain('Configured to reject 5% of good nonces');
    expect(b.daemon.output()).toContain('Using certificate validity period of 600 seconds');
  });
});
