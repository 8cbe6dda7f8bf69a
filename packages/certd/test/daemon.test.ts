import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startCertd } from '../src/index.js';
import { labConfig, memoryLogger, startLab, startOrigins, testOptions } from './helpers.js';

describe('startCertd', () => {
  it('runs a pass at start, serves /metrics, runs another on reload, and closes at once while sleeping', async () => {
    const lab = await startLab();
    const config = await labConfig(lab, { certd: '  metrics: 127.0.0.1:0\n' });
    await startOrigins(config);
    const logs = memoryLogger();
    const certd = await startCertd(config, testOptions(logs.log));
    expect(certd.address).toMatchObject({ address: '127.0.0.1', port: expect.any(Number) });
    // reload() queues behind the first pass: when it resolves, both passes are done.
    const second = await certd.reload();
    expect(second).toMatchObject({
      ok: true,
      certificates: [{ issued: false, error: null, nodesBehind: [] }],
    });
    const response = await request(`http://127.0.0.1:${certd.address?.port ?? 0}/metrics`);
    const text = await response.body.text();
    expect(text).toContain('owncdn_certd_passes_total 2\n');
    expect(text).toContain('owncdn_certd_issued_total 1\n');
    expect(text).toContain('owncdn_certd_failures_total 0\n');
    expect(text).toMatch(
      /owncdn_certd_certificate_expiry_seconds\{name="example\.test"\} \d{10}\n/,
    );
    // The loop now sleeps until the next check (hours away): close() must not wait for it.
    await certd.close();
    expect(logs.text()).toContain('"msg":"certd started"');
  });

  it('with EAB: creates the account with the key id and HMAC from its file, and never logs the HMAC', async () => {
    const hmac = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W';
    const lab = await startLab({ pebble: { eab: { 'kid-1': hmac } } });
    const hmacFile = join(lab.dir, 'eab.hmac');
    await writeFile(hmacFile, `${hmac}\n`, { mode: 0o600 });
    const config = await labConfig(lab, {
      certd: `  eab: { kid: kid-1, hmacFile: ${hmacFile} }\n  keyType: rsa-2048\n`,
    });
    await startOrigins(config);
    const logs = memoryLogger();
    const certd = await startCertd(config, testOptions(logs.log));
    const result = await certd.reload();
    await certd.close();
    expect(result.ok).toBe(true);
    expect(logs.text()).toContain('"msg":"ACME account ready"');
    expect(logs.text()).not.toContain(hmac);
  });

  it("without EAB where the CA requires it: fails with the CA's reason", async () => {
    const lab = await startLab({
      pebble: {
        eab: { 'kid-1': 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W' },
      },
    });
    const config = await labConfig(lab);
    await startOrigins(config);
    const certd = await startCertd(config, testOptions(memoryLogger().log));
    const result = await certd.reload();
    await certd.close();
    expect(result.certificates[0]?.error).toMatch(
      /^the CA refused https:\/\/127\.0\.0\.1:\d+\/sign-me-up: .*(externalAccountRequired|External account binding)/i,
    );
  });
});
