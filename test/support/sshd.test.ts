import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isAlive } from './process.js';
import { startSshd } from './sshd.js';
import { makeTempDir } from './tmp.js';

const run = promisify(execFile);

describe('startSshd', () => {
  it('accepts the client key through the generated ssh_config, with the host key known', async () => {
    const sshd = await startSshd({ aliases: ['au', 'fr'] });
    for (const alias of ['au', 'fr']) {
      const { stdout } = await run('ssh', [
        '-F',
        sshd.clientConfig,
        '-o',
        'BatchMode=yes',
        alias,
        'echo',
        `hello-${alias}`,
      ]);
      expect(stdout).toBe(`hello-${alias}\n`);
    }
    expect(await readFile(sshd.knownHosts, 'utf8')).toBe(
      `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`,
    );
  });

  it('refuses a host whose key does not match known_hosts', async () => {
    const sshd = await startSshd();
    const other = await startSshd();
    const config = await sshd.writeClientConfig('wrong_known_hosts', {
      node: [`UserKnownHostsFile ${other.knownHosts}`],
    });
    const failure = await run('ssh', ['-F', config, '-o', 'BatchMode=yes', 'node', 'true']).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({
      code: 255,
      stderr: expect.stringMatching(/Host key verification failed/),
    });
  });

  it('runs the forced command instead of the client command (rrsync)', async () => {
    const root = await makeTempDir('owncdn-rrsync-');
    await mkdir(join(root, 'releases'));
    const sshd = await startSshd({ forcedCommand: `rrsync ${root}` });
    const failure = await run('ssh', [
      '-F',
      sshd.clientConfig,
      '-o',
      'BatchMode=yes',
      'node',
      'cat',
      '/etc/hostname',
    ]).catch((error: unknown) => error);
    expect(failure).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/rrsync error: SSH_ORIGINAL_COMMAND does not run rsync/),
    });
    const { stdout } = await run('rsync', [
      '--list-only',
      '-e',
      `ssh -F ${sshd.clientConfig}`,
      'node:/',
    ]);
    expect(stdout).toMatch(/ releases\n/);
  });

  it('is stopped by PID', async () => {
    const sshd = await startSshd();
    expect(isAlive(sshd.daemon.pid)).toBe(true);
    await sshd.stop();
    expect(isAlive(sshd.daemon.pid)).toBe(false);
  });
});
