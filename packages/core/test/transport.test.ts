import { execFile, execFileSync } from 'node:child_process';
import {
  lstat,
  mkdir,
  rm,
  readFile,
  readdir,
  readlink,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { memoryLogger } from '../../../test/support/log.js';
import { startSshd } from '../../../test/support/sshd.js';
import type { Sshd } from '../../../test/support/sshd.js';
import { makeTempDir, writeTree } from '../../../test/support/tmp.js';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/types.js';
import { hasAesInstructions } from '../src/transport/ciphers.js';
import { createTransport } from '../src/transport/index.js';
import type { Logger } from '../src/log.js';
import type { NodeTransport } from '../src/transport/types.js';

const run = promisify(execFile);

/** A one-node config: local when `ssh` is null, else reached through the test sshd's ssh_config. */
function makeConfig(root: string, ssh: string | null, sshConfig: string | null = null): Config {
  const yaml = [
    'site: { domain: example.test, names: [example.test] }',
    'nodes:',
    `  - { name: au, ipv4: 127.0.0.11, continents: [OC], default: true, ssh: ${JSON.stringify(ssh)}, root: ${JSON.stringify(root)} }`,
    `ssh: { config: ${JSON.stringify(sshConfig)}, connectTimeout: 5s }`,
    'dns: { nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.53 }] }',
    'certd: { email: null }',
  ].join('\n');
  return parseConfig(yaml, '/tmp/owncdn.yaml');
}

function open(config: Config, log?: Logger): NodeTransport {
  const transport = createTransport(config, config.nodes[0]!, log ? { log } : {});
  onTestFinished(() => transport.close());
  return transport;
}

async function localNode(): Promise<{ root: string; transport: NodeTransport }> {
  const root = join(await makeTempDir('owncdn-node-'), 'root');
  await mkdir(root);
  return { root, transport: open(makeConfig(root, null)) };
}

async function sshNode(
  sshd: Sshd,
  root?: string,
  log?: Logger,
): Promise<{ root: string; transport: NodeTransport }> {
  const dir = root ?? join(await makeTempDir('owncdn-node-'), 'root with space');
  await mkdir(dir, { recursive: true });
  return { root: dir, transport: open(makeConfig(dir, 'node', sshd.clientConfig), log) };
}

/** The contract every transport keeps, run against a local, an ssh and an rrsync-restricted node. */
async function exerciseContract(
  root: string,
  transport: NodeTransport,
  { copies = true }: { copies?: boolean } = {},
): Promise<void> {
  const site = await writeTree(join(await makeTempDir('owncdn-src-'), 'site'), {
    'index.html': '<h1>one</h1>',
    'é à/ü.css': 'body{}',
  });
  const first = await transport.syncDirectory(site, 'releases/r1', { checksum: true });
  expect(first).toMatchObject({ filesTransferred: 2, filesTotal: 2 });
  expect(await readFile(join(root, 'releases/r1/é à/ü.css'), 'utf8')).toBe('body{}');
  expect((await stat(join(root, 'releases/r1/index.html'))).mode & 0o777).toBe(0o644);

  await writeFile(join(site, 'index.html'), '<h1>two</h1>');
  const second = await transport.syncDirectory(site, 'releases/r2', {
    checksum: true,
    linkDest: 'releases/r1',
  });
  expect(second.filesTransferred).toBe(1);
  const [a, b] = await Promise.all([
    stat(join(root, 'releases/r1/é à/ü.css')),
    stat(join(root, 'releases/r2/é à/ü.css')),
  ]);
  expect(b.ino).toBe(a.ino);

  const dry = await transport.syncDirectory(site, 'releases/r3', {
    checksum: true,
    linkDest: 'releases/r2',
    dryRun: true,
  });
  expect(dry.filesTransferred).toBe(0);
  await expect(readdir(join(root, 'releases'))).resolves.toEqual(['r1', 'r2']);

  // A hard-linked copy of a tree, where the node has a shell (not behind rrsync).
  expect(await transport.linkCopy('releases/r2', 'releases/r2 copy')).toBe(copies);
  if (copies) {
    const [c, d] = await Promise.all([
      stat(join(root, 'releases/r2/é à/ü.css')),
      stat(join(root, 'releases/r2 copy/é à/ü.css')),
    ]);
    expect(d.ino).toBe(c.ino);
    expect(await readFile(join(root, 'releases/r2 copy/index.html'), 'utf8')).toBe('<h1>two</h1>');
    // An existing destination (cp would copy into it), or a missing source: nothing copied.
    expect(await transport.linkCopy('releases/r1', 'releases/r2 copy')).toBe(false);
    expect(await transport.linkCopy('releases/none', 'releases/r4')).toBe(false);
    expect((await readdir(join(root, 'releases/r2 copy'))).sort()).toEqual(['index.html', 'é à']);
    // A destination whose parent is missing: the copy fails, naming the node.
    await expect(transport.linkCopy('releases/r1', 'no/such/r1')).rejects.toThrow(
      /^copy a tree on au \(.*\) failed: /,
    );
    await transport.remove(['releases/r2 copy']);
  }
  await expect(readdir(join(root, 'releases'))).resolves.toEqual(['r1', 'r2']);
  await expect(transport.linkCopy('releases/r1', '../escape')).rejects.toMatchObject({
    code: 'OWNCDN_PATH_UNSAFE',
  });
  await expect(transport.linkCopy('', 'releases/all')).rejects.toThrow(
    /^refusing to copy to or from the root of au /,
  );

  expect(await transport.readLink('current')).toBeNull();
  await transport.switchLink('current', 'releases/r1');
  expect(await readlink(join(root, 'current'))).toBe('releases/r1');
  const prepared = await transport.prepareSwitchLink('current', 'releases/r2');
  // Read on the filesystem: behind rrsync, the prepared rsync holds rrsync's lock until commit.
  expect(await readlink(join(root, 'current'))).toBe('releases/r1');
  await prepared.commit();
  expect(await transport.readLink('current')).toBe('releases/r2');
  const cancelled = await transport.prepareSwitchLink('current', 'releases/r1');
  await cancelled.cancel();
  expect(await transport.readLink('current')).toBe('releases/r2');

  expect(await transport.list('releases')).toEqual([
    { name: 'r1', type: 'dir' },
    { name: 'r2', type: 'dir' },
  ]);
  expect((await transport.list(''))?.map((e) => [e.name, e.type])).toEqual([
    ['current', 'symlink'],
    ['releases', 'dir'],
  ]);
  expect(await transport.list('missing/dir')).toBeNull();
  const several = await transport.listDirs(['', 'releases', 'missing', 'releases/r1/é à']);
  expect(several.get('')?.find((e) => e.name === 'current')).toEqual({
    name: 'current',
    type: 'symlink',
    target: 'releases/r2',
  });
  expect(several.get('releases')?.map((e) => e.name)).toEqual(['r1', 'r2']);
  expect(several.get('missing')).toBeNull();
  expect(several.get('releases/r1/é à')?.map((e) => [e.name, e.type])).toEqual([['ü.css', 'file']]);

  await transport.putFile('certs/key.pem', 'secret', 0o600);
  expect(await readFile(join(root, 'certs/key.pem'), 'utf8')).toBe('secret');
  expect((await stat(join(root, 'certs/key.pem'))).mode & 0o777).toBe(0o600);

  await transport.putFileSet('certs/site', [
    { name: 'fullchain.pem', data: 'chain-1' },
    { name: 'privkey.pem', data: 'key-1', mode: 0o600 },
  ]);
  await transport.putFileSet('certs/site', [
    { name: 'fullchain.pem', data: 'chain-2' },
    { name: 'privkey.pem', data: 'key-2', mode: 0o600 },
  ]);
  expect(await readFile(join(root, 'certs/site/fullchain.pem'), 'utf8')).toBe('chain-2');
  expect((await stat(join(root, 'certs/site/privkey.pem'))).mode & 0o777).toBe(0o600);
  expect((await lstat(join(root, 'certs/site'))).isSymbolicLink()).toBe(true);
  const versions = (await readdir(join(root, 'certs'))).filter((n) => n.startsWith('.site.'));
  expect(versions).toEqual([await readlink(join(root, 'certs/site'))]);

  await transport.remove(['releases/r1', 'certs/key.pem', 'releases/never-was']);
  await expect(readdir(join(root, 'releases'))).resolves.toEqual(['r2']);
  await expect(readdir(join(root, 'certs'))).resolves.toEqual([...versions, 'site'].sort());

  await expect(transport.putFile('../escape', 'x')).rejects.toMatchObject({
    code: 'OWNCDN_PATH_UNSAFE',
  });
  await expect(transport.remove(['/etc/passwd'])).rejects.toMatchObject({
    code: 'OWNCDN_PATH_UNSAFE',
  });
  await expect(transport.remove(['.'])).rejects.toThrow(/^refusing to remove the root of au /);
  await expect(transport.switchLink('current', '../../etc')).rejects.toMatchObject({
    code: 'OWNCDN_PATH_UNSAFE',
  });
}

describe('local transport', () => {
  it('keeps the contract on a directory', async () => {
    const { root, transport } = await localNode();
    expect(transport.label).toBe(`au (local ${root})`);
    expect(transport.concurrent).toBe(true);
    await exerciseContract(root, transport);
    expect(await transport.run('pwd')).toEqual({ stdout: root, stderr: '' });
  });

  it('refuses a write through a symlink that leads outside the root', async () => {
    const { root, transport } = await localNode();
    const outside = await makeTempDir('owncdn-outside-');
    await symlink(outside, join(root, 'certs'));
    await expect(transport.putFile('certs/x.pem', 'x')).rejects.toMatchObject({
      code: 'OWNCDN_PATH_UNSAFE',
    });
    await expect(readdir(outside)).resolves.toEqual([]);
  });
});

describe('ssh transport', { timeout: 30_000 }, () => {
  it('keeps the contract over ssh and rsync, on one shared connection', async () => {
    const sshd = await startSshd();
    const { root, transport } = await sshNode(sshd);
    expect(transport.concurrent).toBe(false); // not known before the first call
    await exerciseContract(root, transport);
    expect(transport.concurrent).toBe(true);
    expect((await transport.run('echo "$PWD" && exit 0')).stdout).toMatch(/^\//);
    // One ControlMaster served every call: sshd logged one accepted key.
    expect(sshd.daemon.output().match(/Accepted publickey/g)).toHaveLength(1);
    await expect(transport.run('exit 3')).rejects.toMatchObject({
      code: 'OWNCDN_REMOTE_COMMAND_FAILED',
    });
  });

  it('keeps the contract for a deploy user restricted by rrsync, and refuses run()', async () => {
    const root = join(await makeTempDir('owncdn-node-'), 'root');
    await mkdir(root);
    const sshd = await startSshd({ forcedCommand: `rrsync ${root}` });
    const { transport } = await sshNode(sshd, root);
    await exerciseContract(root, transport, { copies: false });
    expect(transport.concurrent).toBe(false); // rrsync: one rsync at a time
    await expect(transport.run('true')).rejects.toThrow(
      `command on au (node) refused: the node only allows rsync (rrsync forced command); use a user with a shell for this`,
    );
  });

  it('lists a node through its shell exactly as rsync lists it behind rrsync', async () => {
    const root = join(await makeTempDir('owncdn-node-'), 'root');
    await writeTree(root, {
      'releases/r1/index.html': 'one',
      'releases/r1.complete': '',
      'releases/.hidden': '',
      'releases/é à\nb': '',
      'releases/*': '',
      'trees/1/index.html': 'two',
      'trees/2/index.html': 'three',
    });
    await symlink('../trees/1', join(root, 'releases/r2'));
    await symlink('releases/r2', join(root, 'current'));
    await symlink('dangling target', join(root, 'releases/dangling'));
    execFileSync('mkfifo', [join(root, 'trees/fifo')]);
    const dirs = ['', 'releases', 'trees', 'missing', 'releases/r1'];

    const restricted = await sshNode(await startSshd({ forcedCommand: `rrsync ${root}` }), root);
    const byRsync = await restricted.transport.listDirs(dirs);
    expect(byRsync.get('')).toEqual([
      { name: 'current', type: 'symlink', target: 'releases/r2' },
      { name: 'releases', type: 'dir' },
      { name: 'trees', type: 'dir' },
    ]);
    expect(byRsync.get('releases')?.map((e) => e.name)).toEqual([
      '*',
      '.hidden',
      'dangling',
      'r1',
      'r1.complete',
      'r2',
      'é à\nb',
    ]);
    expect(byRsync.get('trees')?.find((e) => e.name === 'fifo')?.type).toBe('other');
    expect(byRsync.get('missing')).toBeNull();

    const sshd = await startSshd();
    // The first call rides on the connection's greeting: no call of its own.
    const logged = memoryLogger();
    const messages = () => logged.lines().map((line) => line.msg);
    const shell = await sshNode(sshd, root, logged.log);
    expect(await shell.transport.listDirs(dirs)).toEqual(byRsync);
    expect(messages()).toContain('ssh connect');
    expect(messages()).not.toContain('shell listing');
    expect(messages()).not.toContain('rsync');
    // Later calls: one shell command each.
    expect(await shell.transport.listDirs(dirs)).toEqual(byRsync);
    expect(messages()).toContain('shell listing');

    // A node whose root does not exist yet lists nothing, both ways.
    const fresh = await sshNode(sshd, join(root, 'trees/1/new'));
    await rm(join(root, 'trees/1/new'), { recursive: true });
    expect(await fresh.transport.listDirs(['', 'releases'])).toEqual(
      new Map([
        ['', null],
        ['releases', null],
      ]),
    );
    expect(await fresh.transport.listDirs(['releases'])).toEqual(new Map([['releases', null]]));
  });

  it('names the node and the fix for each way the connection fails', async () => {
    const sshd = await startSshd();
    const other = await startSshd();
    const wrongKey = join(other.dir, 'client_ed25519');
    const unknownHosts = join(sshd.dir, 'empty_known_hosts');
    await writeFile(unknownHosts, '');
    const changedHosts = join(sshd.dir, 'changed_known_hosts');
    await writeFile(changedHosts, `[127.0.0.1]:${sshd.port} ${other.hostPublicKey}\n`);
    const config = await sshd.writeClientConfig('broken_ssh_config', {
      closed: ['Port 1'],
      refused: [`IdentityFile ${wrongKey}`],
      changed: [`UserKnownHostsFile ${changedHosts}`],
      unknown: [`UserKnownHostsFile ${unknownHosts}`],
    });
    const root = await makeTempDir('owncdn-node-');
    const attempt = (alias: string) => open(makeConfig(root, alias, config)).list('');
    await expect(attempt('closed')).rejects.toMatchObject({
      code: 'OWNCDN_SSH_UNREACHABLE',
      retryable: true,
    });
    await expect(attempt('closed')).rejects.toThrow(
      /^connect to au \(closed\) failed: host unreachable \(.*Connection refused\); check that the node is up and that sshd answers: `ssh closed true`$/,
    );
    await expect(attempt('refused')).rejects.toThrow(
      "connect to au (refused) failed: the node refused the key; add your public key to the deploy user's authorized_keys on the node, or load it into ssh-agent",
    );
    await expect(attempt('changed')).rejects.toMatchObject({ code: 'OWNCDN_SSH_HOST_KEY_CHANGED' });
    await expect(attempt('changed')).rejects.toThrow(
      /the host key changed since it was recorded in known_hosts; if the node was reinstalled, remove the old key with `ssh-keygen -R changed`/,
    );
    await expect(attempt('unknown')).rejects.toMatchObject({ code: 'OWNCDN_SSH_HOST_KEY_UNKNOWN' });
  });

  it('says so when rsync is missing on the node', async () => {
    const sshd = await startSshd({
      forcedCommand: 'PATH=/nonexistent; eval "$SSH_ORIGINAL_COMMAND"',
    });
    const { transport } = await sshNode(sshd);
    await expect(transport.list('')).rejects.toThrow(
      'connect to au (node) failed: rsync is not installed on the node; install it there (`apt-get install rsync`)',
    );
    await expect(transport.list('')).rejects.toMatchObject({ code: 'OWNCDN_RSYNC_MISSING' });
  });

  it('says so when rsync is missing on a node whose first call is a listing', async () => {
    // A shell on the PATH, but no rsync: the greeting's listing never starts.
    const bin = await makeTempDir('owncdn-bin-');
    await symlink('/bin/sh', join(bin, 'sh'));
    const sshd = await startSshd({ forcedCommand: `PATH=${bin}; eval "$SSH_ORIGINAL_COMMAND"` });
    const { transport } = await sshNode(sshd);
    await expect(transport.listDirs(['', 'releases'])).rejects.toThrow(
      'connect to au (node) failed: rsync is not installed on the node; install it there (`apt-get install rsync`)',
    );
  });

  it.skipIf(!hasAesInstructions())(
    'prefers AES-GCM unless the ssh configuration chooses ciphers',
    async () => {
      const sshd = await startSshd({ logLevel: 'DEBUG1' });
      const { transport } = await sshNode(sshd);
      await transport.list('');
      expect(sshd.daemon.output()).toMatch(/kex: client->server cipher: aes128-gcm@openssh\.com/);
      const config = await sshd.writeClientConfig('chacha_ssh_config', {
        chacha: ['Ciphers chacha20-poly1305@openssh.com'],
      });
      const root = await makeTempDir('owncdn-node-');
      await open(makeConfig(root, 'chacha', config)).list('');
      expect(sshd.daemon.output()).toMatch(
        /kex: client->server cipher: chacha20-poly1305@openssh\.com/,
      );
    },
  );

  it('closes its ControlMaster', async () => {
    const sshd = await startSshd();
    const { transport } = await sshNode(sshd);
    await transport.list('');
    await transport.close();
    const { stdout } = await run('ps', ['-eo', 'args']);
    expect(stdout).not.toContain(sshd.clientConfig);
  });
});
