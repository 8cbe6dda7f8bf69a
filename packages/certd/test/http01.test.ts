import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readState, runCertdOnce } from '../src/index.js';
import { servedSerial } from '../src/deploy.js';
import {
  NAMES,
  NODE_ADDRESSES,
  labConfig,
  memoryLogger,
  startLab,
  startOrigins,
  testOptions,
} from './helpers.js';

describe('first issuance over HTTP-01', () => {
  it('obtains one certificate for site.names and makes it live on all three nodes', async () => {
    const lab = await startLab();
    const config = await labConfig(lab);
    await startOrigins(config);
    const logs = memoryLogger();
    const started = performance.now();
    const result = await runCertdOnce(config, testOptions(logs.log));
    const elapsedMs = performance.now() - started;
    expect(result).toMatchObject({
      ok: true,
      certificates: [{ name: 'example.test', issued: true, error: null, nodesBehind: [] }],
    });

    const state = await readState(lab.stateDir);
    const current = state.certificates['example.test']?.current;
    expect([...(current?.names ?? [])].sort()).toEqual([...NAMES].sort());
    for (const address of NODE_ADDRESSES) {
      expect((await servedSerial(address, lab.httpsPort, 'www.example.test', 2_000)).serial).toBe(
        current?.serial,
      );
    }
    // Chained to this Pebble run's root.
    const chain = await readFile(
      join(lab.roots[0] ?? '', 'certs/example.test/fullchain.pem'),
      'utf8',
    );
    const leaf = new X509Certificate(chain);
    expect(leaf.checkHost('www.example.test')).toBe('www.example.test');
    expect(leaf.publicKey.asymmetricKeyType).toBe('ec');

    // Key files: 0600 on every node and in the state directory.
    for (const root of lab.roots)
      expect((await stat(join(root, 'certs/example.test/privkey.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(lab.stateDir, 'account.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(lab.stateDir, 'state.json'))).mode & 0o777).toBe(0o600);

    // Keys never reach the log.
    const accountKey = await readFile(join(lab.stateDir, 'account.key'), 'utf8');
    const certKey = await readFile(
      join(lab.roots[0] ?? '', 'certs/example.test/privkey.pem'),
      'utf8',
    );
    const text = logs.text();
    expect(text).toContain('"msg":"certificate live on node"');
    // The account thumbprint (public) is in the log, for admins who place acme-thumbprint by hand.
    const thumbprint = await readFile(join(lab.roots[1] ?? '', 'acme-thumbprint'), 'utf8');
    expect(logs.lines().find((l) => l.msg === 'ACME account ready')).toMatchObject({ thumbprint });
    expect(text).not.toContain('PRIVATE KEY');
    for (const pem of [accountKey, certKey]) {
      const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, '');
      expect(text).not.toContain(body.slice(20, 60));
    }
    const lines = logs.lines();
    const ordered = Number(lines.find((l) => l.msg === 'order created')?.time);
    const live = Math.max(
      ...lines.filter((l) => l.msg === 'certificate live on node').map((l) => Number(l.time)),
    );
    expect(live).toBeGreaterThan(ordered);
    console.info(
      `order created → live on 3 nodes: ${live - ordered} ms; whole pass incl. account: ${Math.round(elapsedMs)} ms`,
    );
  });
});
