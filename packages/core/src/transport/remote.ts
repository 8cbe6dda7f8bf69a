import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { Config, NodeConfig } from '../config/types.js';
import { OwncdnError } from '../errors.js';
import type { Logger } from '../log.js';
import { failureError } from './failure.js';
import { isVersionOf, versionName } from './local.js';
import { checkBelowRoot, checkNodePath, splitNodePath } from './paths.js';
import { prepareRemoteSwitch } from './remote-switch.js';
import { filterLiteral, parseListLine, runRsync } from './rsync.js';
import type { RsyncRun } from './rsync.js';
import {
  LIST_ARGS,
  dirsListingFilters,
  parseDirListing,
  parseDirsListing,
} from './rsync-listing.js';
import { GREETING, SshSession, shCommand } from './ssh.js';
import { beforeListing, parseShellListing, shellListingCommand } from './shell-listing.js';
import { runSyncDirectory } from './sync-directory.js';
import type {
  DirEntry,
  FileToWrite,
  NodeTransport,
  SyncDirectoryOptions,
  TransferResult,
} from './types.js';

/** rrsync (without -no-lock) lets one rsync at a time into its directory. */
const RRSYNC_LOCKED = /Another instance of rrsync is already accessing this directory/;
/** Waits before retrying a locked rrsync: elapsed 0.1, 0.3, 0.7, 1.5 s (a push's switch or a cert write holds it briefly). */
const RRSYNC_LOCK_RETRY_MS = [100, 200, 400, 800] as const;

/** How the far side runs rsync, learnt once per transport from `rsync --version`. */
interface FarSide {
  /** True behind an rrsync forced command: paths are then rooted at rrsync's directory (`/x` = `<root>/x`). */
  readonly restricted: boolean;
  readonly version: string | null;
}

/** A listDirs call that came before the connection: its listing rides on the greeting. */
interface GreetingListing {
  readonly rels: readonly string[];
  /** Filled by the probe: the listing, or null when there was none to take (restricted, unparsable). */
  listed: Map<string, DirEntry[] | null> | null;
}

/**
 * Run as `sh -c LINK_COPY sh ROOT SOURCE DEST` (shCommand): exits
 * NOT_COPIED, touching nothing, unless SOURCE is a directory and DEST does
 * not exist (`cp -al A B` with an existing B would copy A into B/A). `-a -l`
 * means the same to GNU and BusyBox cp.
 */
const LINK_COPY =
  'cd "$1" && [ -d "$2" ] && [ ! -e "$3" ] && [ ! -L "$3" ] || exit 3; exec cp -al -- "$2" "$3"';
const NOT_COPIED = 3;

/** rsync's "No such file or directory" for a missing source or destination parent (rrsync says it its own way). */
const MISSING =
  /(change_dir|link_stat|mkdir|opendir) .*failed: No such file or directory \(2\)|rrsync error: .*No such file or directory/;

/**
 * A node reached over the system ssh and rsync. Every operation but `run` is
 * one rsync call, so a deploy user restricted by `rrsync <root>` can do all of
 * them; all calls share one ControlMaster connection.
 */
export function createRemoteTransport(
  config: Config,
  node: NodeConfig,
  log: Logger,
): NodeTransport {
  const label = `${node.name} (${node.ssh ?? ''})`;
  const session = new SshSession(config, node, label, log);
  const host = session.rsyncHost;
  let farSide: Promise<FarSide> | null = null;
  /** Learnt by the first call: null until then. */
  let restricted: boolean | null = null;
  /** One local scratch directory per transport (a promise: concurrent first calls share it). */
  let scratch: Promise<string> | null = null;

  /** Learns what answers on the node; `listing`, when given, rides on the connection's greeting. */
  const probe = async (listing: GreetingListing | null): Promise<FarSide> => {
    await session.connect(
      listing === null ? GREETING : shellListingCommand(node.root, listing.rels, true),
    );
    // Asked when the connection opened (one round trip less), or again after a reconnect.
    const result = session.greeting ?? (await session.exec(GREETING));
    const stdout = typeof result.stdout === 'string' ? result.stdout : '';
    const stderr = typeof result.stderr === 'string' ? result.stderr : '';
    const version = beforeListing(stdout);
    if (/rsync\s+version/.test(version) && (result.exitCode === 0 || listing !== null)) {
      if (listing !== null && result.exitCode === 0)
        listing.listed = parseShellListing(stdout, listing.rels);
      return { restricted: false, version: /rsync\s+version\s+(\S+)/.exec(version)?.[1] ?? null };
    }
    // rrsync refuses anything but `rsync --server …`, saying so on stderr.
    if (/rrsync/.test(stderr)) return { restricted: true, version: null };
    throw failureError(
      'connect to',
      label,
      { exitCode: result.exitCode, stderr, program: result.exitCode === 255 ? 'ssh' : 'rsync' },
      session.target,
    );
  };
  /** What answers on the node, learnt once; only the call that starts learning it can pass `listing`. */
  const far = (listing: GreetingListing | null = null): Promise<FarSide> => {
    farSide ??= probe(listing)
      .then((side) => {
        restricted = side.restricted;
        return side;
      })
      .catch((error: unknown) => {
        farSide = null;
        throw error;
      });
    return farSide;
  };
  /** The path rsync on the node must be given for `rel` (checked, relative to root). */
  const remotePath = async (rel: string): Promise<string> => {
    const side = await far();
    const base = side.restricted ? '' : node.root.replace(/\/+$/, '');
    return rel === '' ? `${base}/` : `${base}/${rel}`;
  };
  const remoteArg = async (rel: string, slash = false): Promise<string> => {
    const path = await remotePath(rel);
    return `${host}:${slash && !path.endsWith('/') ? `${path}/` : path}`;
  };
  const localScratch = async (): Promise<string> => {
    scratch ??= mkdtemp(join(tmpdir(), 'owncdn-put-'));
    return mkdtemp(join(await scratch, 'x'));
  };
  const fail = (operation: string, run: RsyncRun): never => {
    if (run.aborted)
      throw new OwncdnError('OWNCDN_RSYNC_FAILED', `${operation} ${label} was interrupted`, {
        retryable: true,
      });
    throw failureError(
      operation,
      label,
      { exitCode: run.exitCode, stderr: run.stderr, program: 'rsync' },
      session.target,
    );
  };
  // rrsync (without -no-lock) refuses a second rsync while one runs, so calls
  // to a restricted node queue here instead of failing; others run at once.
  let queue: Promise<void> = Promise.resolve();
  const acquire = async (): Promise<() => void> => {
    if (!(await far()).restricted) return () => undefined;
    const previous = queue;
    let release: () => void = () => undefined;
    queue = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    return release;
  };
  const rsync = async (
    operation: string,
    args: readonly string[],
    options: { allowMissing?: boolean } = {},
  ): Promise<RsyncRun | null> => {
    const listing = args.includes('--list-only');
    const release = await acquire();
    let run: RsyncRun;
    try {
      run = await runRsync(['-e', session.rshCommand(), ...args], { keepAllLines: listing });
      // Another process (certd and a push at once) may hold rrsync's lock: wait a moment and retry.
      for (const delayMs of RRSYNC_LOCK_RETRY_MS) {
        if (!RRSYNC_LOCKED.test(run.stderr)) break;
        await sleep(delayMs);
        run = await runRsync(['-e', session.rshCommand(), ...args], { keepAllLines: listing });
      }
    } finally {
      release();
    }
    log.debug({ node: node.name, args, exitCode: run.exitCode }, 'rsync');
    if (run.exitCode === 0) return run;
    if (
      options.allowMissing &&
      (run.exitCode === 23 || run.exitCode === 1 || run.exitCode === 12) &&
      MISSING.test(run.stderr)
    )
      return null;
    return fail(operation, run);
  };

  const readLink = async (path: string): Promise<string | null> => {
    const rel = checkNodePath(path, label);
    const run = await rsync('read link on', [...LIST_ARGS, await remoteArg(rel)], {
      allowMissing: true,
    });
    if (!run) return null;
    for (const line of run.lines) {
      const entry = parseListLine(line);
      if (entry) return entry.type === 'symlink' ? entry.target : null;
    }
    return null;
  };

  /** Prepared switches whose link is in place but whose rsync is still ending (see prepareSwitchLink); close() waits for them. */
  const ending = new Set<Promise<void>>();

  const prepareSwitchLink = (path: string, target: string) =>
    prepareRemoteSwitch(
      {
        nodeName: node.name,
        label,
        log,
        remoteArg,
        rsh: () => session.rshCommand(),
        localScratch,
        acquire,
        fail,
        ending,
      },
      path,
      target,
    );

  /**
   * `rels` listed through the node's shell: taken from the greeting when this
   * call opened the connection, else one ssh session. Null behind rrsync (no
   * shell), or when the output does not parse: rsync lists them then.
   */
  const shellListing = async (
    rels: readonly string[],
  ): Promise<Map<string, DirEntry[] | null> | null> => {
    const mine: GreetingListing | null = farSide === null ? { rels, listed: null } : null;
    if ((await far(mine)).restricted) return null;
    // The greeting's listing, or null when it did not parse (rsync lists then).
    if (mine !== null) return mine.listed;
    const result = await session.exec(shellListingCommand(node.root, rels, false));
    const stdout = typeof result.stdout === 'string' ? result.stdout : '';
    const listed = result.exitCode === 0 ? parseShellListing(stdout, rels) : null;
    log.debug(
      { node: node.name, exitCode: result.exitCode, parsed: listed !== null },
      'shell listing',
    );
    return listed;
  };

  const switchLink = async (path: string, target: string): Promise<void> => {
    const prepared = await prepareSwitchLink(path, target);
    await prepared.commit();
  };

  const remove = async (paths: readonly string[]): Promise<void> => {
    const byParent = new Map<string, string[]>();
    for (const path of paths) {
      const { parent, name } = splitNodePath(checkBelowRoot(path, label, 'remove'));
      byParent.set(parent, [...(byParent.get(parent) ?? []), name]);
    }
    for (const [parent, names] of byParent) {
      const empty = await localScratch();
      // An empty source with --delete removes exactly what the filters
      // include; everything else is excluded and so protected.
      const filters = names.flatMap((n) => [
        `--filter=+ /${filterLiteral(n)}`,
        `--filter=+ /${filterLiteral(n)}/***`,
      ]);
      await rsync(
        'remove on',
        ['-r', '--delete', ...filters, '--filter=- *', `${empty}/`, await remoteArg(parent, true)],
        { allowMissing: true },
      );
      await rm(empty, { recursive: true, force: true });
    }
  };

  return {
    node,
    label,
    get concurrent() {
      return restricted === false;
    },

    async syncDirectory(
      source: string,
      dest: string,
      options: SyncDirectoryOptions = {},
    ): Promise<TransferResult> {
      const destRel = checkNodePath(dest, label);
      const linkDests = await Promise.all(
        [options.linkDest ?? []].flat().map((d) => remotePath(checkNodePath(d, label))),
      );
      const destArg = await remoteArg(destRel, true); // connects first, so rshCommand() names the ControlPath
      const release = await acquire();
      const { run, result, args } = await runSyncDirectory(
        source,
        { rsh: session.rshCommand(), dest: destArg, linkDests },
        options,
      ).finally(release);
      log.debug({ node: node.name, args, exitCode: run.exitCode }, 'rsync');
      if (run.exitCode !== 0 || run.aborted) fail('upload to', run);
      return result;
    },

    async putFileSet(dir: string, files: readonly FileToWrite[]): Promise<void> {
      const rel = checkNodePath(dir, label);
      const { parent, name } = splitNodePath(rel);
      const local = await localScratch();
      const version = versionName(name);
      for (const file of files) {
        const path = join(local, version, checkNodePath(file.name, label));
        await mkdir(join(path, '..'), { recursive: true });
        await writeFile(path, file.data);
        await chmod(path, file.mode ?? 0o644);
      }
      await mkdir(join(local, version), { recursive: true });
      await rsync('write to', [
        '-rp',
        '--chmod=D755',
        '--fsync',
        '--mkpath',
        join(local, version),
        await remoteArg(parent, true),
      ]);
      await rm(local, { recursive: true, force: true });
      const previous = await readLink(rel);
      await switchLink(rel, version);
      if (previous !== null && previous !== version && isVersionOf(name, previous))
        await remove([parent ? `${parent}/${previous}` : previous]);
    },

    async putFile(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
      const rel = checkNodePath(path, label);
      const { parent, name } = splitNodePath(rel);
      const local = await localScratch();
      await writeFile(join(local, name), data);
      await chmod(join(local, name), mode);
      // rsync writes a temporary file beside the target and renames it into place.
      await rsync('write to', [
        '-p',
        '--ignore-times',
        '--fsync',
        '--mkpath',
        join(local, name),
        await remoteArg(parent, true),
      ]);
      await rm(local, { recursive: true, force: true });
    },

    remove,

    async list(dir: string): Promise<DirEntry[] | null> {
      const rel = checkNodePath(dir, label);
      const run = await rsync('list on', [...LIST_ARGS, await remoteArg(rel, true)], {
        allowMissing: true,
      });
      return run ? parseDirListing(run.lines) : null;
    },

    async listDirs(dirs: readonly string[]): Promise<Map<string, DirEntry[] | null>> {
      const rels = dirs.map((d) => checkNodePath(d, label));
      // Through the node's shell when it has one, else one recursive rsync
      // listing of the root, filtered down to the wanted directories.
      let byRel = await shellListing(rels);
      if (byRel === null) {
        const filters = dirsListingFilters(rels);
        const run = await rsync(
          'list on',
          [...LIST_ARGS, '-r', ...filters, await remoteArg('', true)],
          { allowMissing: true },
        );
        byRel = parseDirsListing(run?.lines ?? null, rels);
      }
      return new Map(dirs.map((dir, i) => [dir, byRel.get(rels[i] ?? '') ?? null]));
    },

    async linkCopy(source: string, dest: string): Promise<boolean> {
      const from = checkBelowRoot(source, label, 'copy to or from');
      const to = checkBelowRoot(dest, label, 'copy to or from');
      if ((await far()).restricted) return false;
      const result = await session.exec(shCommand(LINK_COPY, [node.root, from, to]));
      log.debug({ node: node.name, from, to, exitCode: result.exitCode }, 'link copy');
      if (result.exitCode === NOT_COPIED) return false;
      if (result.exitCode !== 0) {
        const stderr = typeof result.stderr === 'string' ? result.stderr : '';
        throw failureError(
          'copy a tree on',
          label,
          { exitCode: result.exitCode, stderr, program: result.exitCode === 255 ? 'ssh' : 'cp' },
          session.target,
        );
      }
      return true;
    },

    readLink,
    switchLink,
    prepareSwitchLink,

    async run(command: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}) {
      if ((await far()).restricted) {
        throw new OwncdnError(
          'OWNCDN_REMOTE_COMMAND_FAILED',
          `command on ${label} refused: the node only allows rsync (rrsync forced command); use a user with a shell for this`,
        );
      }
      const result = await session.exec(command, options);
      const stdout = typeof result.stdout === 'string' ? result.stdout : '';
      const stderr = typeof result.stderr === 'string' ? result.stderr : '';
      if (result.exitCode !== 0) {
        throw failureError(
          'command on',
          label,
          { exitCode: result.exitCode, stderr, program: result.exitCode === 255 ? 'ssh' : 'sh' },
          session.target,
        );
      }
      return { stdout, stderr };
    },

    async close(): Promise<void> {
      await Promise.all(ending);
      await session.close();
      const dir = await scratch?.catch(() => null);
      scratch = null;
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
