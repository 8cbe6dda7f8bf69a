import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadExeca } from './exec.js';
import type { Config, NodeConfig } from '../config/types.js';
import { OwncdnError } from '../errors.js';
import type { Logger } from '../log.js';
import { cipherPreference } from './ciphers.js';
import { failureError } from './failure.js';

/** Processes run in the C locale so their messages (which we classify) stay English. */
export const PROCESS_ENV = { LC_ALL: 'C', LANG: 'C' } as const;

/** The first command on a new connection: says whether rsync, rrsync or nothing answers. */
export const GREETING = 'rsync --version';

/** An idle shared connection closes itself after this long, so a crashed owncdn leaves nothing behind for long. */
const CONTROL_PERSIST_S = 60;

/**
 * Starts a program with stdin closed and stdout/stderr into files; resolves
 * with its exit status (undefined if it died by a signal). The program is
 * started before this returns: the files are opened synchronously, so a
 * caller that goes on with synchronous work (a push hashes the site while the
 * nodes' handshakes run) does not hold the start back.
 */
function runToFiles(
  program: string,
  args: readonly string[],
  outFile: string,
  errFile: string,
): Promise<number | undefined> {
  const out = openSync(outFile, 'w');
  const err = openSync(errFile, 'w');
  try {
    const child = spawn(program, args, {
      stdio: ['ignore', out, err],
      env: { ...process.env, ...PROCESS_ENV },
    });
    return new Promise<number | undefined>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code ?? undefined));
    });
  } finally {
    // The child holds its own copies of the descriptors.
    closeSync(out);
    closeSync(err);
  }
}

/** `user@host:port` → ssh's own arguments; an alias or `user@host` passes through. */
export function parseSshTarget(spec: string): {
  target: string;
  rsyncHost: string;
  port: number | null;
} {
  const match = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d+))?$/.exec(spec);
  if (!match)
    throw new OwncdnError(
      'OWNCDN_CONFIG_INVALID',
      `ssh target ${JSON.stringify(spec)} is not user@host[:port], host or an ssh_config alias`,
    );
  const [, user, rawHost = spec, port] = match;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  const prefix = user ? `${user}@` : '';
  // rsync splits `host:path` at the first colon, so an IPv6 address needs brackets.
  return {
    target: `${prefix}${host}`,
    rsyncHost: `${prefix}${host.includes(':') ? `[${host}]` : host}`,
    port: port ? Number(port) : null,
  };
}

/** Quotes one word for a shell (and for rsync's `-e` splitter, which honours single quotes). */
export function quoteWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * A remote command line running `script` as `sh -c SCRIPT sh ARG…`: the
 * script reads its arguments as `$1`, `$2` …, so no name is ever quoted
 * inside it, whatever characters it holds.
 */
export function shCommand(script: string, args: readonly string[]): string {
  return ['sh', '-c', script, 'sh', ...args].map(quoteWord).join(' ');
}

/**
 * One node's ssh connection: a ControlMaster started on first use and shared
 * by every ssh and rsync call of the transport (a fresh connection costs
 * ~270 ms, a multiplexed session ~13 ms: NOTES.md), closed by `close()`.
 */
export class SshSession {
  readonly target: string;
  /** The host part of rsync's `host:path` arguments. */
  readonly rsyncHost: string;
  readonly #port: number | null;
  readonly #config: Config;
  readonly #label: string;
  readonly #log: Logger;
  #controlDir: string | null = null;
  /** `Ciphers=…` putting AES-GCM first, or null (see ciphers.ts); decided before the master starts. */
  #ciphers: string | null = null;
  /** Deciding #ciphers: started with the session, so it is done by the time the master starts. */
  readonly #choosingCiphers: Promise<void>;
  #master: Promise<void> | null = null;
  #greeting: { exitCode: number; stdout: string; stderr: string } | null = null;
  #closed = false;

  constructor(config: Config, node: NodeConfig, label: string, log: Logger) {
    if (node.ssh === null)
      throw new OwncdnError('OWNCDN_INTERNAL', `node ${node.name} has no ssh target`);
    const { target, rsyncHost, port } = parseSshTarget(node.ssh);
    this.target = target;
    this.rsyncHost = rsyncHost;
    this.#port = port;
    this.#config = config;
    this.#label = label;
    this.#log = log;
    this.#choosingCiphers = cipherPreference(
      this.#baseArgs(),
      this.target,
      config.ssh.options,
    ).then((ciphers) => {
      this.#ciphers = ciphers;
    });
  }

  /** Options shared by the master and every multiplexed call (without the target). */
  #baseArgs(): string[] {
    const args: string[] = [];
    if (this.#config.ssh.config) args.push('-F', this.#config.ssh.config);
    if (this.#port !== null) args.push('-p', String(this.#port));
    args.push(
      '-o',
      'BatchMode=yes',
      '-o',
      `ConnectTimeout=${Math.max(1, Math.ceil(this.#config.ssh.connectTimeoutMs / 1000))}`,
      '-o',
      'ServerAliveInterval=15',
    );
    for (const option of this.#config.ssh.options) args.push('-o', option);
    if (this.#ciphers) args.push('-o', this.#ciphers);
    if (this.#controlDir) args.push('-o', `ControlPath=${join(this.#controlDir, 'm')}`);
    return args;
  }

  /**
   * Arguments for a multiplexed call. ControlMaster=no here: the master was
   * started by `connect()`; a call that became a master itself would fork a
   * ControlPersist process holding our stderr pipe open until it expires.
   * Without a live master, ssh simply connects directly.
   */
  commandArgs(): string[] {
    return [...this.#baseArgs(), '-o', 'ControlMaster=no'];
  }

  /** The `-e` value for rsync (a command line rsync splits itself); call after `connect()`. */
  rshCommand(): string {
    return ['ssh', ...this.commandArgs()].map(quoteWord).join(' ');
  }

  /**
   * Opens the shared connection once; throws the classified error when the
   * node cannot be reached. Its first session runs `greeting` (the first
   * caller's; default `rsync --version`), whose outcome `greeting` then holds.
   */
  connect(greeting: string = GREETING): Promise<void> {
    if (this.#closed)
      return Promise.reject(
        new OwncdnError('OWNCDN_INTERNAL', `transport to ${this.#label} used after close()`),
      );
    this.#master ??= this.#startMaster(greeting).catch((error: unknown) => {
      this.#master = null;
      throw error;
    });
    return this.#master;
  }

  async #startMaster(greeting: string): Promise<void> {
    const key = createHash('sha256').update(this.target).digest('hex').slice(0, 8);
    // A short private directory: unix socket paths are limited to ~104 bytes.
    // Made synchronously, like the output files below: ssh starts as soon as
    // the cipher preference (asked when the session was made) is known.
    this.#controlDir ??= mkdtempSync(join(tmpdir(), `owncdn-ssh-${key}-`));
    await this.#choosingCiphers;
    // The master's first session runs the greeting (`rsync --version`): the
    // transport needs to know what answers there (rsync, rrsync, nothing)
    // anyway, and asking now saves a round trip. With ControlPersist the
    // master forks into the background and the foreground ssh exits with the
    // command's status once the session ends; its output goes to files
    // rather than pipes, so nothing the background master inherits can keep
    // us waiting.
    const outFile = join(this.#controlDir, 'master.out');
    const errFile = join(this.#controlDir, 'master.err');
    const args = [
      ...this.#baseArgs(),
      '-o',
      'ControlMaster=yes',
      '-o',
      `ControlPersist=${CONTROL_PERSIST_S}`,
      this.target,
      '--',
      greeting,
    ];
    this.#log.debug({ node: this.#label, args }, 'ssh connect');
    // node:child_process rather than execa here: the handshake starts without
    // waiting ~0.15 s for execa to load; the later calls need it, so it loads meanwhile.
    const handshake = runToFiles('ssh', args, outFile, errFile);
    void loadExeca().catch(() => undefined); // its own callers report a failed load
    const exitCode = await handshake.catch((error: unknown) => {
      // ssh itself could not be started (not installed, not executable).
      throw new OwncdnError(
        'OWNCDN_SSH_FAILED',
        `connect to ${this.#label} failed: cannot run ssh (${error instanceof Error ? error.message : String(error)}); install openssh-client`,
        { cause: error },
      );
    });
    const [stdout, stderr] = await Promise.all([
      readFile(outFile, 'utf8'),
      readFile(errFile, 'utf8'),
    ]);
    // 255: ssh itself failed (unreachable, refused key, host key); anything
    // else came from the far side, and the connection is up.
    if (exitCode === 255 || exitCode === undefined) {
      throw failureError(
        'connect to',
        this.#label,
        { exitCode, stderr, program: 'ssh' },
        this.target,
      );
    }
    this.#greeting = { exitCode, stdout, stderr };
  }

  /** What the greeting gave on the node when the connection opened (see connect). */
  get greeting(): { exitCode: number; stdout: string; stderr: string } | null {
    return this.#greeting;
  }

  /** Runs `command` through the shared connection. */
  async exec(
    command: string,
    options: { signal?: AbortSignal; timeoutMs?: number; input?: string } = {},
  ) {
    await this.connect();
    const execa = await loadExeca();
    return execa('ssh', [...this.commandArgs(), this.target, '--', command], {
      reject: false,
      env: PROCESS_ENV,
      cancelSignal: options.signal,
      timeout: options.timeoutMs,
      input: options.input ?? '',
      stripFinalNewline: false,
    });
  }

  /** Ends the master (`ssh -O exit`) and removes the control directory. */
  async close(): Promise<void> {
    this.#closed = true;
    const dir = this.#controlDir;
    if (this.#master) {
      await this.#master.catch(() => undefined); // a failed connect already reported its error
      const execa = await loadExeca();
      await execa('ssh', [...this.#baseArgs(), '-O', 'exit', this.target], {
        reject: false,
        env: PROCESS_ENV,
        stdin: 'ignore',
      });
    }
    this.#master = null;
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
