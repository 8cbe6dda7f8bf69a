import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readState, runCertdOnce } from '../src/index.js';
import { startAriProxy } from './ari-proxy.js';
import {
  cleanup,
  labConfig,
  memoryLogger,
  startLab,
  startOrigins,
  testOptions,
} from './helpers.js';

const HOUR_MS = 3_600_000;

/** A webhook receiver (like an ntfy topic) recording what it is sent. */
async function startWebhook(): Promise<{ url: string; received: string[] }> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(() => new Promise((resolve) => server.close(resolve)));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/certd`,
    received,
  };
}

describe('rate limits and people', () => {
  it('respects a rate limit Retry-After across runs, alerts a person close to expiry, and recovers', async () => {
    // Eight-day certificates: a failure to renew is already within 10 days of expiry.
    const lab = await startLab({ pebble: { certValiditySeconds: 8 * 24 * 3600 } });
    const proxy = await startAriProxy(lab.pebble, { status: 404 });
    const webhook = await startWebhook();
    const config = await labConfig(lab, {
      directory: proxy.directoryUrl,
      certd: `  webhook: ${webhook.url}\n`,
    });
    await startOrigins(config);
    expect((await runCertdOnce(config, testOptions(memoryLogger().log))).ok).toBe(true);
    const serial = (await readState(lab.stateDir)).certificates['example.test']?.current?.serial;

    // Five days on (past half of eight), the CA answers newOrder with 429 and Retry-After: 2 h.
    proxy.failNewOrder = {
      status: 429,
      type: 'urn:ietf:params:acme:error:rateLimited',
      retryAfterS: 7200,
    };
    const day5 = Date.now() + 5 * 24 * HOUR_MS;
    const logs = memoryLogger();
    const limited = await runCertdOnce(config, testOptions(logs.log, { now: () => day5 }));
    expect(limited.certificates[0]?.error).toMatch(
      /^the CA rate-limited https:\/\/127\.0\.0\.1:\d+\/order-plz: too many new orders recently \(rateLimited\)$/,
    );
    const state = (await readState(lab.stateDir)).certificates['example.test'];
    expect(state).toMatchObject({ failures: 1, current: { serial } });
    expect(state?.retryAt).toBeGreaterThanOrEqual(day5 + 2 * HOUR_MS);
    expect(
      logs
        .lines()
        .find((l) => l.msg === 'certificate renewal failing close to expiry; a person must act'),
    ).toMatchObject({
      level: 50,
      code: 'OWNCDN_ACME_RATE_LIMITED',
    });
    expect(webhook.received).toHaveLength(1);
    expect(webhook.received[0]).toMatch(
      /^owncdn certd: example\.test expires \S+ and obtaining it failed 1 time\(s\): the CA rate-limited /,
    );

    // A fresh process an hour later (the state file carries the limit) does not ask the CA.
    const asked = proxy.newOrders.length;
    await runCertdOnce(config, testOptions(memoryLogger().log, { now: () => day5 + HOUR_MS }));
    expect(proxy.newOrders).toHaveLength(asked);

    // After the Retry-After, with the CA willing again: renewed.
    proxy.failNewOrder = null;
    const after = await runCertdOnce(
      config,
      testOptions(memoryLogger().log, { now: () => day5 + 2 * HOUR_MS + 60_000 }),
    );
    expect(after).toMatchObject({ ok: true, certificates: [{ issued: true }] });
    expect((await readState(lab.stateDir)).certificates['example.test']).toMatchObject({
      failures: 0,
      retryAt: null,
      lastError: null,
    });
  });

  it('requests the configured profile only when the CA lists it (and keeps the key with reuseKey)', async () => {
    const lab = await startLab();
    const proxy = await startAriProxy(lab.pebble, { status: 404 });
    const config = await labConfig(lab, {
      directory: proxy.directoryUrl,
      certd: '  profile: shortlived\n  reuseKey: true\n',
    });
    await startOrigins(config);
    const logs = memoryLogger();
    expect((await runCertdOnce(config, testOptions(logs.log))).ok).toBe(true);
    expect(proxy.newOrders[0]).not.toHaveProperty('profile');
    expect(
      logs
        .lines()
        .find((l) => l.msg === 'the CA does not list this profile; ordering with its default'),
    ).toMatchObject({ profile: 'shortlived' });

    const key = await readFile(join(lab.roots[0] ?? '', 'certs/example.test/privkey.pem'), 'utf8');
    proxy.profiles = { classic: 'the usual', shortlived: 'six days' };
    expect(
      (
        await runCertdOnce(
          config,
          testOptions(memoryLogger().log, { now: () => Date.now() + 4 * 365 * 24 * HOUR_MS }),
        )
      ).ok,
    ).toBe(true);
    expect(proxy.newOrders[1]).toMatchObject({ profile: 'shortlived' });
    expect(await readFile(join(lab.roots[0] ?? '', 'certs/example.test/privkey.pem'), 'utf8')).toBe(
      key,
    );
    expect(proxy.newOrders).toHaveLength(2);
  });
});
