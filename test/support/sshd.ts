import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFreePort } from './ports.js';
import { startDaemon } from './process.js';
import type { Daemon } from './process.js';
import { makeTempDir } from './tmp.js';

const run = promisify(execFile);

/** Debian's path; sshd must be started by absolute path (it re-executes itself). */
const SSHD = '/usr/sbin/sshd';

export interface StartSshdOptions {
  /** Host aliases written to the client ssh_config, e.g. one per node (default: `node`). */
  readonly aliases?: readonly string[];
  /**
   * Forced command for the client key (authorized_keys `command="…",restrict`),
   * e.g. `rrsync /tmp/x/root`. Default: none, any command runs.
   */
  readonly forcedCommand?: string;
  /** sshd's LogLevel (default VERBOSE); DEBUG1 also logs each connection's negotiated cipher. */
  readonly logLevel?: 'VERBOSE' | 'DEBUG1';
}

export interface Sshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The user the client logs in as (whoever runs the tests). */
  readonly user: string;
  /** Directory holding keys, configs and known_hosts; removed after the test. */
  readonly dir: string;
  /** Client ssh_config (for `ssh -F`, i.e. owncdn.yaml `ssh.config`) with a Host block per alias. */
  readonly clientConfig: string;
  readonly clientKey: string;
  readonly knownHosts: string;
  /** The server's public host key line (`ssh-ed25519 AAAA…`). */
  readonly hostPublicKey: string;
  readonly aliases: readonly string[];
  readonly daemon: Daemon;
  /**
   * Writes another client ssh_config in `dir` and returns its path; `hosts`
   * maps an alias to ssh_config lines that override the defaults (e.g.
   * `['Port 1']`, `['UserKnownHostsFile /other']`).
   */
  writeClientConfig(
    name: string,
    hosts: Readonly<Record<string, readonly string[]>>,
  ): Promise<string>;
  /** Stops sshd (also done when the test finishes). */
  stop(): Promise<void>;
}

/**
 * Starts a private sshd on 127.0.0.1 and a free port, with its own host key,
 * a client key, authorized_keys (optionally with a forced command) and a
 * known_hosts, never touching the system sshd or ~/.ssh. Ready when sshd logs
 * "Server listening on"; stopped by PID when the test finishes.
 */
export async function startSshd(options: StartSshdOptions = {}): Promise<Sshd> {
  const aliases = options.aliases ?? ['node'];
  const dir = await makeTempDir('owncdn-sshd-');
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  await Promise.all([
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'owncdn-test-host', '-f', hostKey]),
    run('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'owncdn-test-client',
      '-f',
      clientKey,
    ]),
  ]);
  const hostPublicKey = (await readFile(`${hostKey}.pub`, 'utf8'))
    .trim()
    .split(' ')
    .slice(0, 2)
    .join(' ');
  const clientPublicKey = (await readFile(`${clientKey}.pub`, 'utf8')).trim();
  const keyOptions = options.forcedCommand
    ? `command="${options.forcedCommand.replaceAll('"', '\\"')}",restrict `
    : '';
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, `${keyOptions}${clientPublicKey}\n`, { mode: 0o600 });

  const user = userInfo().username;
  // Privilege separation needs this directory when sshd runs as root; the
  // system sshd creates it too, so making it (never removing it) is harmless.
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const port = await findFreePort('127.0.0.1');
  const serverConfig = join(dir, 'sshd_config');
  await writeFile(
    serverConfig,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PidFile none',
      // The temp dir is world-readable and owned by whoever runs the tests.
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      // Tests open several ControlMaster sessions and parallel rsyncs at once.
      'MaxSessions 64',
      'MaxStartups 64',
      `LogLevel ${options.logLevel ?? 'VERBOSE'}`,
      // bash sources ~/.bashrc for commands run by sshd only at shell level 1;
      // starting at 2 keeps a developer's slow .bashrc (pyenv init: ~300 ms)
      // out of every session, as on a clean deploy user.
      'SetEnv SHLVL=1',
      '',
    ].join('\n'),
  );
  const daemon = await startDaemon(SSHD, ['-D', '-e', '-f', serverConfig], {
    ready: /Server listening on 127\.0\.0\.1 port \d+/,
  });

  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPublicKey}\n`);

  const hostBlock = (alias: string, overrides: readonly string[] = []): string => {
    const keys = new Set(overrides.map((line) => line.split(/\s+/, 1)[0]?.toLowerCase()));
    const defaults = [
      'HostName 127.0.0.1',
      `Port ${port}`,
      `User ${user}`,
      `IdentityFile ${clientKey}`,
      'IdentitiesOnly yes',
      `UserKnownHostsFile ${knownHosts}`,
      'GlobalKnownHostsFile /dev/null',
      'StrictHostKeyChecking yes',
      'LogLevel ERROR',
    ].filter((line) => !keys.has(line.split(' ', 1)[0]?.toLowerCase()));
    return [`Host ${alias}`, ...[...defaults, ...overrides].map((line) => `  ${line}`), ''].join(
      '\n',
    );
  };
  const writeClientConfig = async (
    name: string,
    hosts: Readonly<Record<string, readonly string[]>>,
  ): Promise<string> => {
    const path = join(dir, name);
    await writeFile(
      path,
      Object.entries(hosts)
        .map(([alias, lines]) => hostBlock(alias, lines))
        .join('\n'),
    );
    return path;
  };
  const clientConfig = await writeClientConfig(
    'ssh_config',
    Object.fromEntries(aliases.map((alias) => [alias, []])),
  );

  return {
    host: '127.0.0.1',
    port,
    user,
    dir,
    clientConfig,
    clientKey,
    knownHosts,
    hostPublicKey,
    aliases,
    daemon,
    writeClientConfig,
    stop: async () => void (await daemon.stop()),
  };
}
