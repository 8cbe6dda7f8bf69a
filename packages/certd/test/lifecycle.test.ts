import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTransport, OwncdnError } from '@owncdn/core';
import { describe, expect, it } from 'vitest';
import { servedSerial } from '../src/deploy.js';
import { readState, runCertdOnce } from '../src/index.js';
import {
  NODE_ADDRESSES,
  labConfig,
  memoryLogger,
  startLab,
  startOrigins,
  testOptions,
  transportWith,
} from './helpers.js';
import type { Lab } from './helpers.js';

const DAY_MS = 24 * 3_600_000;

async function servedOnAll(lab: Lab): Promise<(string | null)[]> {
  return Promise.all(
    NODE_ADDRESSES.map(
      async (a) => (await servedSerial(a, lab.httpsPort, 'example.test', 2_000)).serial,
    ),
  );
}

describe('certd lifecycle against Pebble', () => {
  it('reuses the account and orders nothing while the certificate is fresh; renews by lifetime without ARI', async () => {
    // 10-day certificates: the short-lived rule renews at half the lifetime.
    const lab = await startLab({ pebble: { certValiditySeconds: 10 * 24 * 3600 } });
    const config = await labConfig(lab);
    await startOrigins(config);
    const first = memoryLogger();
    expect((await runCertdOnce(config, testOptions(first.log))).ok).toBe(true);
    expect(
      first.lines().filter((l) => l.msg === 'account thumbprint pushed for stateless HTTP-01'),
    ).toHaveLength(3);
    const accountKey = await readFile(join(lab.stateDir, 'account.key'), 'utf8');
    const s1 = (await readState(lab.stateDir)).certificates['example.test'];
    const cert1 = s1?.current;
    if (!cert1) throw new Error('no certificate after the first pass');
    expect(s1.renewAt).toBe(cert1.notBefore + (cert1.notAfter - cert1.notBefore) / 2);

    const second = memoryLogger();
    const again = await runCertdOnce(config, testOptions(second.log));
    expect(again).toMatchObject({ ok: true, certificates: [{ issued: false, error: null }] });
    expect(second.text()).not.toContain('order created');
    expect(second.text()).not.toContain('ACME account ready');
    expect(await readFile(join(lab.stateDir, 'account.key'), 'utf8')).toBe(accountKey);

    // Six days later (past half of ten): renewed with a new key, no `replaces` (no ARI), live everywhere.
    const keyFile = join(lab.roots[2] ?? '', 'certs/example.test/privkey.pem');
    const key1 = await readFile(keyFile, 'utf8');
    const third = memoryLogger();
    const later = await runCertdOnce(
      config,
      testOptions(third.log, { now: () => Date.now() + 6 * DAY_MS }),
    );
    expect(later).toMatchObject({ ok: true, certificates: [{ issued: true }] });
    const cert2 = (await readState(lab.stateDir)).certificates['example.test']?.current;
    expect(await readFile(keyFile, 'utf8')).not.toBe(key1);
    expect(cert2?.serial).not.toBe(cert1.serial);
    expect(await servedOnAll(lab)).toEqual([cert2?.serial, cert2?.serial, cert2?.serial]);
    const order = third.lines().find((l) => l.msg === 'order created');
    expect(order).toMatchObject({ replaces: null });
    // The nodes already answer with the thumbprint: nothing pushed for this order.
    expect(third.text()).not.toContain('account thumbprint pushed');
    expect(await readFile(join(lab.stateDir, 'account.key'), 'utf8')).toBe(accountKey);
  });

  it('backs off when the CA goes down in the middle of an order and keeps serving the current certificate', async () => {
    const lab = await startLab();
    const config = await labConfig(lab);
    await startOrigins(config);
    expect((await runCertdOnce(config, testOptions(memoryLogger().log))).ok).toBe(true);
    const serial = (await readState(lab.stateDir)).certificates['example.test']?.current?.serial;

    // Four years on (of Pebble's five), renewing per-token: Pebble stops while the tokens go out.
    const perToken = await labConfig(lab, { certd: '  http01Mode: per-token\n' });
    const stopPebbleOnAu = transportWith((node) =>
      node.name === 'au'
        ? {
            putFile: async (path, data, mode) => {
              await lab.pebble.close();
              await createTransport(perToken, node).putFile(path, data, mode);
            },
          }
        : null,
    );
    const farLater = () => Date.now() + 4 * 365 * DAY_MS;
    const logs = memoryLogger();
    const failed = await runCertdOnce(
      perToken,
      testOptions(logs.log, { now: farLater, transport: stopPebbleOnAu }),
    );
    expect(failed.ok).toBe(false);
    expect(failed.certificates[0]?.error).toMatch(
      /^ACME server unreachable: (HEAD|POST) https:\/\/127\.0\.0\.1:\d+\/\S+ failed: /,
    );
    const state = (await readState(lab.stateDir)).certificates['example.test'];
    expect(state).toMatchObject({ failures: 1, current: { serial } });
    expect(state?.order?.url).toMatch(/\/my-order\//);
    expect(state?.retryAt).toBeGreaterThan(farLater());
    expect(await servedOnAll(lab)).toEqual([serial, serial, serial]);
    // Not at expiry yet (four years of five): a warning, not a call for a person.
    expect(
      logs
        .lines()
        .find(
          (l) =>
            l.msg === 'obtaining certificate failed; keeping the current one and retrying later',
        ),
    ).toMatchObject({
      level: 40,
      code: 'OWNCDN_ACME_UNREACHABLE',
    });

    // A new run inside the backoff does not contact the CA at all: no second failure is counted.
    const during = memoryLogger();
    await runCertdOnce(config, testOptions(during.log, { now: farLater }));
    expect((await readState(lab.stateDir)).certificates['example.test']?.failures).toBe(1);
    expect(during.text()).toContain('renewal due but backing off');
  });

  it('sends nothing to the CA until every node serves the token, then resumes the same order', async () => {
    // Pebble's default 5 % nonce rejection stays on in this test.
    const lab = await startLab({ pebble: { env: { PEBBLE_WFE_NONCEREJECT: '5' } } });
    const config = await labConfig(lab, { certd: '  http01Mode: per-token\n' });
    await startOrigins(config);
    const dropTokensOnFr = transportWith((node) =>
      node.name === 'fr'
        ? {
            putFile: (path) =>
              path.startsWith('acme-challenge/')
                ? Promise.resolve()
                : Promise.reject(new Error(`unexpected ${path}`)),
          }
        : null,
    );
    const logs = memoryLogger();
    const failed = await runCertdOnce(config, testOptions(logs.log, { transport: dropTokensOnFr }));
    expect(failed.ok).toBe(false);
    expect(failed.certificates[0]?.error).toMatch(
      /^check HTTP-01 failed on fr: 127\.0\.0\.13:\d+ answers 404 for the token of (www\.)?example\.test \(the CA was not asked to validate\)$/,
    );
    expect(lab.pebble.daemon.output()).not.toMatch(/POST \/chalZ\//);
    const pending = (await readState(lab.stateDir)).certificates['example.test'];
    expect(pending?.order?.url).toMatch(/\/my-order\//);
    // The tokens were removed from the nodes that got them.
    for (const root of lab.roots.slice(0, 2))
      expect(await readdir(join(root, 'acme-challenge'))).toEqual([]);

    // The next run (after the backoff) resumes the persisted order rather than ordering again.
    const resumed = memoryLogger();
    const ok = await runCertdOnce(
      config,
      testOptions(resumed.log, { now: () => Date.now() + 3_600_000 }),
    );
    expect(ok).toMatchObject({ ok: true, certificates: [{ issued: true }] });
    expect(resumed.lines().find((l) => l.msg === 'resuming in-flight order')).toMatchObject({
      order: pending?.order?.url,
      status: 'pending',
    });
    expect(resumed.text()).not.toContain('order created');
    expect(lab.pebble.daemon.output()).toMatch(/POST \/chalZ\//);
  });

  it('catches up a node that was down during the deploy on the next pass, without a new order', async () => {
    const lab = await startLab();
    const config = await labConfig(lab);
    await startOrigins(config);
    const frDown = transportWith((node) =>
      node.name === 'fr'
        ? {
            putFileSet: () =>
              Promise.reject(
                new OwncdnError(
                  'OWNCDN_SSH_UNREACHABLE',
                  'fr (deploy@fr) is unreachable: connection refused',
                ),
              ),
          }
        : null,
    );
    const first = await runCertdOnce(
      config,
      testOptions(memoryLogger().log, { transport: frDown }),
    );
    expect(first).toMatchObject({
      ok: false,
      certificates: [{ issued: true, error: null, nodesBehind: ['fr'] }],
    });
    const state = (await readState(lab.stateDir)).certificates['example.test'];
    const serial = state?.current?.serial;
    expect(state?.nodes.fr).toMatchObject({
      serial: null,
      error: 'fr (deploy@fr) is unreachable: connection refused',
    });
    expect((await servedOnAll(lab)).slice(0, 2)).toEqual([serial, serial]);

    const logs = memoryLogger();
    const second = await runCertdOnce(config, testOptions(logs.log));
    expect(second).toMatchObject({ ok: true, certificates: [{ issued: false, nodesBehind: [] }] });
    expect(logs.text()).not.toContain('order created');
    expect(await servedOnAll(lab)).toEqual([serial, serial, serial]);
  });
});
