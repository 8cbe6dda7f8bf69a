import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSshd } from '../../../test/support/sshd.js';
import { servedSerial } from '../src/deploy.js';
import { readState, runCertdOnce } from '../src/index.js';
import {
  NODE_ADDRESSES,
  labConfig,
  memoryLogger,
  startLab,
  startOrigins,
  testOptions,
} from './helpers.js';

describe('a node reached over ssh as a user restricted to rsync in the node root (rrsync)', () => {
  it('gets its per-token challenges and certificate through rrsync; a post-deploy command is refused', async () => {
    const lab = await startLab();
    const frRoot = lab.roots[2] ?? '';
    // README, least privilege: command="rrsync <root>",restrict in the certd user's authorized_keys.
    const sshd = await startSshd({
      aliases: ['fr-node'],
      forcedCommand: `/usr/bin/rrsync ${frRoot}`,
    });
    const top = `ssh:\n  config: ${sshd.clientConfig}\n`;
    const config = await labConfig(lab, {
      certd: '  http01Mode: per-token\n',
      nodes: (i) => (i === 2 ? '    ssh: fr-node\n' : ''),
      top,
    });
    expect(config.nodes[2]).toMatchObject({ name: 'fr', ssh: 'fr-node', root: frRoot });
    await startOrigins(config);

    const logs = memoryLogger();
    const result = await runCertdOnce(config, testOptions(logs.log));
    expect(result).toMatchObject({
      ok: true,
      certificates: [{ issued: true, error: null, nodesBehind: [] }],
    });
    const serial = (await readState(lab.stateDir)).certificates['example.test']?.current?.serial;
    for (const address of NODE_ADDRESSES)
      expect((await servedSerial(address, lab.httpsPort, 'example.test', 2_000)).serial).toBe(
        serial,
      );
    expect((await stat(join(frRoot, 'certs/example.test/privkey.pem'))).mode & 0o777).toBe(0o600);
    expect(logs.text()).not.toContain('PRIVATE KEY');

    // A node that needs a post-deploy command must not use the restricted user: the deploy says so, and is retried.
    const withHook = await labConfig(lab, {
      certd: '  http01Mode: per-token\n',
      nodes: (i) => (i === 2 ? '    ssh: fr-node\n    postDeploy: systemctl reload nginx\n' : ''),
      top,
    });
    const hookLogs = memoryLogger();
    const renewed = await runCertdOnce(
      withHook,
      testOptions(hookLogs.log, { now: () => Date.now() + 4 * 365 * 24 * 3_600_000 }),
    );
    expect(renewed).toMatchObject({
      ok: false,
      certificates: [{ issued: true, nodesBehind: ['fr'] }],
    });
    expect((await readState(lab.stateDir)).certificates['example.test']?.nodes.fr?.error).toMatch(
      /^command on fr \(fr-node\) refused: the node only allows rsync \(rrsync forced command\)/,
    );
  });
});
