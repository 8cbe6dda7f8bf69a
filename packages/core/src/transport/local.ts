import { randomBytes } from 'node:crypto';
import {
  chmod,
  link,
  lstat,
  mkdir,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadExeca } from './exec.js';
import {
  syncDirectory as fsyncDirectory,
  temporarySibling,
  writeFileAtomic,
} from '../atomic-write.js';
import type { NodeConfig } from '../config/types.js';
import { OwncdnError } from '../errors.js';
import type { Logger } from '../log.js';
import { failureError } from './failure.js';
import {
  checkBelowRoot,
  checkLinkTarget,
  checkNodePath,
  resolveInsideRoot,
  splitNodePath,
} from './paths.js';
import { PROCESS_ENV } from './ssh.js';
import { runSyncDirectory } from './sync-directory.js';
import type {
  DirEntry,
  FileToWrite,
  NodeTransport,
  PreparedSwitch,
  SyncDirectoryOptions,
  TransferResult,
} from './types.js';

/** A fresh name for a putFileSet version directory: `.name.<time><random>`. */
export function versionName(name: string): string {
  return `.${name}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** True when `entry` is a version directory putFileSet made for `name`. */
export function isVersionOf(name: string, entry: string): boolean {
  return entry.startsWith(`.${name}.`) && /^[0-9a-z]+$/.test(entry.slice(name.length + 2));
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string'
    ? error.code
    : undefined;
}

/** `cp -al from to` for a tree this process may read: directories made with their modes, files hard-linked, symlinks copied. */
async function linkTree(from: string, to: string): Promise<void> {
  const { mode } = await lstat(from);
  await mkdir(to);
  await chmod(to, mode & 0o7777);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const [a, b] = [join(from, entry.name), join(to, entry.name)];
    if (entry.isDirectory()) await linkTree(a, b);
    else if (entry.isSymbolicLink()) await symlink(await readlink(a), b);
    else await link(a, b);
  }
}

/**
 * A node that is a directory on this machine (no `ssh` in owncdn.yaml): the
 * same contract as the ssh transport, on the filesystem (rsync for trees).
 */
export function createLocalTransport(node: NodeConfig, log: Logger): NodeTransport {
  const label = `${node.name} (local ${node.root})`;
  const root = node.root;
  const resolve = async (path: string) =>
    resolveInsideRoot(root, checkNodePath(path, label), label);
  /** A full disk or a permission problem as the error naming its fix; null for anything else. */
  const classified = (operation: string, error: unknown): OwncdnError | null => {
    if (error instanceof OwncdnError) return error;
    const code = errorCode(error);
    const message = error instanceof Error ? error.message : String(error);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return new OwncdnError(
        'OWNCDN_DISK_FULL',
        `${operation} ${label} failed: the disk is full (${message}); free space or lower sync.keep`,
        { cause: error },
      );
    }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return new OwncdnError(
        'OWNCDN_PERMISSION_DENIED',
        `${operation} ${label} failed: permission denied (${message}); make ${root} writable by this user`,
        { cause: error },
      );
    }
    return null;
  };
  const wrap = (operation: string, error: unknown): never => {
    throw classified(operation, error) ?? error;
  };

  const readLink = async (path: string): Promise<string | null> => {
    const absolute = await resolve(path);
    try {
      return await readlink(absolute);
    } catch (error) {
      if (
        errorCode(error) === 'ENOENT' ||
        errorCode(error) === 'EINVAL' ||
        errorCode(error) === 'ENOTDIR'
      )
        return null;
      return wrap('read link on', error);
    }
  };

  const switchLink = async (path: string, target: string): Promise<void> => {
    const prepared = await prepareSwitchLink(path, target);
    await prepared.commit();
  };

  const prepareSwitchLink = async (path: string, target: string): Promise<PreparedSwitch> => {
    const rel = checkNodePath(path, label);
    checkLinkTarget(rel, target, label);
    const absolute = await resolveInsideRoot(root, rel, label);
    try {
      await mkdir(dirname(absolute), { recursive: true });
      const tmp = temporarySibling(absolute);
      await symlink(target, tmp);
      let done = false;
      return {
        commit: async () => {
          if (done) return;
          done = true;
          try {
            await rename(tmp, absolute);
            await fsyncDirectory(dirname(absolute));
          } catch (error) {
            await rm(tmp, { force: true });
            wrap('switch on', error);
          }
          log.debug({ node: node.name, path: rel, target }, 'link switched');
        },
        cancel: async () => {
          if (done) return;
          done = true;
          await rm(tmp, { force: true });
        },
      };
    } catch (error) {
      return wrap('switch on', error);
    }
  };

  return {
    node,
    label,
    concurrent: true,

    async syncDirectory(
      source: string,
      dest: string,
      options: SyncDirectoryOptions = {},
    ): Promise<TransferResult> {
      const destPath = await resolve(dest);
      const linkDests = [options.linkDest ?? []]
        .flat()
        .map((d) => join(root, checkNodePath(d, label)));
      const { run, result, args } = await runSyncDirectory(
        source,
        { rsh: null, dest: `${destPath}/`, linkDests },
        options,
      );
      log.debug({ node: node.name, args, exitCode: run.exitCode }, 'rsync');
      if (run.aborted)
        throw new OwncdnError('OWNCDN_RSYNC_FAILED', `upload to ${label} was interrupted`, {
          retryable: true,
        });
      if (run.exitCode !== 0)
        throw failureError(
          'upload to',
          label,
          { exitCode: run.exitCode, stderr: run.stderr, program: 'rsync' },
          root,
        );
      return result;
    },

    async putFileSet(dir: string, files: readonly FileToWrite[]): Promise<void> {
      const rel = checkNodePath(dir, label);
      const { parent, name } = splitNodePath(rel);
      const parentPath = await resolve(parent);
      const version = versionName(name);
      try {
        await mkdir(join(parentPath, version), { recursive: true, mode: 0o755 });
        for (const file of files) {
          const fileName = checkNodePath(file.name, label);
          await writeFileAtomic(join(parentPath, version, fileName), file.data, {
            mode: file.mode ?? 0o644,
            mkdir: true,
          });
        }
        const previous = await readLink(rel);
        await switchLink(rel, version);
        if (previous !== null && previous !== version && isVersionOf(name, previous))
          await rm(join(parentPath, previous), { recursive: true, force: true });
      } catch (error) {
        wrap('write to', error);
      }
    },

    async putFile(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
      const absolute = await resolve(path);
      try {
        await writeFileAtomic(absolute, data, { mode, mkdir: true });
      } catch (error) {
        wrap('write to', error);
      }
    },

    async remove(paths: readonly string[]): Promise<void> {
      for (const path of paths) {
        const rel = checkBelowRoot(path, label, 'remove');
        try {
          await rm(await resolveInsideRoot(root, rel, label), { recursive: true, force: true });
        } catch (error) {
          wrap('remove on', error);
        }
      }
    },

    async list(dir: string): Promise<DirEntry[] | null> {
      const absolute = await resolve(dir);
      let names: string[];
      try {
        names = await readdir(absolute);
      } catch (error) {
        if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return null;
        return wrap('list on', error);
      }
      const entries: DirEntry[] = [];
      for (const name of names.sort()) {
        const info = await lstat(join(absolute, name)).catch(() => null); // removed meanwhile: not listed
        if (!info) continue;
        const type = info.isFile()
          ? 'file'
          : info.isDirectory()
            ? 'dir'
            : info.isSymbolicLink()
              ? 'symlink'
              : 'other';
        const target =
          type === 'symlink' ? await readlink(join(absolute, name)).catch(() => null) : null;
        entries.push({ name, type, ...(target === null ? {} : { target }) });
      }
      return entries;
    },

    async listDirs(dirs: readonly string[]): Promise<Map<string, DirEntry[] | null>> {
      const listed = new Map<string, DirEntry[] | null>();
      for (const dir of dirs) listed.set(dir, await this.list(dir));
      return listed;
    },

    async linkCopy(source: string, dest: string): Promise<boolean> {
      const inside = (path: string) =>
        resolveInsideRoot(root, checkBelowRoot(path, label, 'copy to or from'), label);
      const [from, to] = [await inside(source), await inside(dest)];
      const [isDir, taken] = await Promise.all([
        lstat(from).then(
          (i) => i.isDirectory(),
          () => false,
        ),
        lstat(to).then(
          () => true,
          () => false,
        ),
      ]);
      if (!isDir || taken) return false;
      try {
        await linkTree(from, to);
      } catch (error) {
        throw (
          classified('copy a tree on', error) ??
          new OwncdnError(
            'OWNCDN_REMOTE_COMMAND_FAILED',
            `copy a tree on ${label} failed: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          )
        );
      }
      log.debug({ node: node.name, source, dest }, 'link copy');
      return true;
    },

    readLink,

    switchLink,
    prepareSwitchLink,

    async run(command: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}) {
      const execa = await loadExeca();
      const result = await execa(command, {
        shell: true,
        cwd: root,
        reject: false,
        env: PROCESS_ENV,
        cancelSignal: options.signal,
        timeout: options.timeoutMs,
      });
      if (result.exitCode !== 0) {
        throw failureError(
          'command on',
          label,
          { exitCode: result.exitCode, stderr: result.stderr, program: 'sh' },
          root,
        );
      }
      return { stdout: result.stdout, stderr: result.stderr };
    },

    async close(): Promise<void> {
      // Nothing to close for a local directory.
    },
  };
}
