import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o644; keys use 0o600). */
  readonly mode?: number;
  /** Create the parent directory (mode 0o755, or 0o700 when `mode` is 0o600) if missing. */
  readonly mkdir?: boolean;
  /**
   * fsync the file and its directory (default true). False for caches, which
   * a crash may cost but never corrupt (old file, new file, or one that fails
   * to parse): an fsync waits until the disk holds it, and next to a push
   * writing 20,000 files to the same disk that wait is for theirs too.
   */
  readonly durable?: boolean;
}

/** A name beside `path` that no other writer picks: `.name.tmp-<random>`. */
export function temporarySibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

/**
 * Writes `data` to `path` so that readers see either the old file or the whole
 * new one, never a half-written file, even across a crash: write a temporary
 * sibling, fsync it, rename it into place, fsync the directory.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o644;
  const dir = dirname(path);
  if (options.mkdir) await mkdir(dir, { recursive: true, mode: mode === 0o600 ? 0o700 : 0o755 });
  const tmp = temporarySibling(path);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    // The mode given to open() is masked by the umask; a key must end up 0600 exactly.
    await handle.chmod(mode);
    if (options.durable !== false) await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  if (options.durable !== false) await syncDirectory(dir);
}

/** Points `linkPath` at `target` atomically (a new symlink renamed over the old one). */
export async function replaceSymlink(linkPath: string, target: string): Promise<void> {
  const tmp = temporarySibling(linkPath);
  await symlink(target, tmp);
  try {
    await rename(tmp, linkPath);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(linkPath));
}

/** fsyncs a directory so a rename in it survives a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
