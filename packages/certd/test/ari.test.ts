import { describe, expect, it } from 'vitest';
import { readState, runCertdOnce } from '../src/index.js';
import { startAriProxy } from './ari-proxy.js';
import { labConfig, memoryLogger, startLab, startOrigins, testOptions } from './helpers.js';

const HOUR_MS = 3_600_000;

describe('ACME Renewal Information (through a proxy adding renewalInfo to Pebble)', () => {
  it('renews inside the suggested window and sends `replaces`', async () => {
    const lab = await startLab();
    const now = Date.now();
    const proxy = await startAriProxy(lab.pebble, {
      start: now + 30 * 24 * HOUR_MS,
      end: now + 31 * 24 * HOUR_MS,
    });
    const config = await labConfig(lab, { directory: proxy.directoryUrl });
    await startOrigins(config);

    expect((await runCertdOnce(config, testOptions(memoryLogger().log))).ok).toBe(true);
    const s1 = (await readState(lab.stateDir)).certificates['example.test'];
    const cert1 = s1?.current;
    if (!cert1) throw new Error('no certificate');
    expect(proxy.newOrders[0]).not.toHaveProperty('replaces');
    expect(proxy.asked).toEqual([cert1.certId]);
    // Inside the window, not by lifetime (Pebble's certificates last five years).
    expect(s1.renewAt).toBeGreaterThanOrEqual(now + 30 * 24 * HOUR_MS);
    expect(s1.renewAt).toBeLessThan(now + 31 * 24 * HOUR_MS);

    // Before the window: nothing ordered, ARI not asked again until its Retry-After / next check.
    const quiet = memoryLogger();
    expect(await runCertdOnce(config, testOptions(quiet.log))).toMatchObject({
      ok: true,
      certificates: [{ issued: false }],
    });
    expect(proxy.asked).toHaveLength(1);

    // The CA moves the window into the past (e.g. a revocation is coming): renew at once, replacing cert1.
    proxy.answer = { start: now - 2 * HOUR_MS, end: now - HOUR_MS };
    const later = () => Date.now() + 13 * HOUR_MS; // after the 12 h check interval
    const renewed = memoryLogger();
    expect(await runCertdOnce(config, testOptions(renewed.log, { now: later }))).toMatchObject({
      ok: true,
      certificates: [{ issued: true }],
    });
    expect(proxy.asked.slice(1, 2)).toEqual([cert1.certId]);
    expect(proxy.newOrders[1]).toMatchObject({ replaces: cert1.certId });
    const cert2 = (await readState(lab.stateDir)).certificates['example.test']?.current;
    expect(cert2?.serial).not.toBe(cert1.serial);
    // And the new certificate's window is asked for right away.
    expect(proxy.asked.at(-1)).toBe(cert2?.certId);
  });

  it('falls back to the lifetime rule when renewalInfo fails', async () => {
    const lab = await startLab();
    const proxy = await startAriProxy(lab.pebble, { status: 500 });
    const config = await labConfig(lab, { directory: proxy.directoryUrl });
    await startOrigins(config);
    const logs = memoryLogger();
    expect((await runCertdOnce(config, testOptions(logs.log))).ok).toBe(true);
    const s = (await readState(lab.stateDir)).certificates['example.test'];
    const cert = s?.current;
    if (!cert) throw new Error('no certificate');
    expect(s.renewAt).toBe(cert.notAfter - (cert.notAfter - cert.notBefore) / 3);
    expect(
      logs.lines().find((l) => l.msg === 'could not fetch ARI; renewing by lifetime'),
    ).toMatchObject({ level: 40 });
  });
});
