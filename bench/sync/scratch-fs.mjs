// Where bench/sync keeps its sites and nodes: a fresh ext4 with a journal,
// loop-mounted, as on a real server or laptop (mkfs.ext4's default).
//
// Why not the temporary directory itself: a filesystem without a journal (this
// project's CI machines run ext4 without one) makes ext4 skip every recently
// deleted inode when it allocates one (fs/ext4/ialloc.c, recently_deleted(),
// only consulted without a journal), so creating files within a minute or so
// after deleting tens of thousands costs time that grows with how many were
// deleted. The same first push of 20,000 files measured 5 to 25 s there,
// depending on what the step before had removed, for either tool.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Sparse: only what is written takes space. */
const IMAGE_SIZE = '8G';
/** One inode per 8 KiB: both tools' trees of 20,000 small files with room to spare. */
const BYTES_PER_INODE = '8192';

/**
 * Mounts a fresh ext4 image under `work` and returns its path, or `work`
 * itself when that cannot be done (not root, no mkfs.ext4, no loop device);
 * `note` says which, for the results.
 */
export function mountScratch(work) {
  const image = join(work, 'fs.img');
  const path = join(work, 'fs');
  const fallback = (why) => ({
    path: work,
    note: `site and nodes in ${work} on ${describe(work)} (${why})`,
    unmount: () => undefined,
  });
  if (process.getuid?.() !== 0) return fallback('not root: no ext4 image mounted');
  try {
    mkdirSync(path);
    execFileSync('truncate', ['-s', IMAGE_SIZE, image]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-i', BYTES_PER_INODE, image], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop', image, path], { stdio: 'pipe' });
  } catch (error) {
    rmSync(image, { force: true });
    return fallback(
      `could not mount an ext4 image: ${String(error.stderr ?? error.message).trim()}`,
    );
  }
  let mounted = true;
  return {
    path,
    note: `site and nodes on a fresh ext4 with a journal (an ${IMAGE_SIZE} sparse image, loop-mounted), as on a real server (this machine's temporary directory is on ${describe(work)})`,
    unmount: () => {
      if (!mounted) return;
      mounted = false;
      try {
        execFileSync('umount', [path], { stdio: 'pipe' });
      } catch {
        // Busy (a push stopped by Ctrl-C still closing its files): detach it
        // now, the kernel finishes once they are closed.
        execFileSync('umount', ['-l', path], { stdio: 'pipe' });
      }
      rmSync(image, { force: true });
    },
  };
}

/** `ext4 without a journal` and the like, from /proc/mounts and /proc/fs/jbd2. */
function describe(dir) {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter(
      (f) => f.length > 2 && (dir === f[1] || dir.startsWith(f[1] === '/' ? '/' : `${f[1]}/`)),
    )
    .sort((a, b) => b[1].length - a[1].length);
  const [device, , type] = mounts[0] ?? ['?', '?', 'an unknown filesystem'];
  if (type !== 'ext4') return `${type}`;
  let journals = [];
  try {
    journals = readdirSync('/proc/fs/jbd2');
  } catch {
    // no jbd2 at all: no ext4 journal anywhere
  }
  const name = device.replace(/^\/dev\//, '');
  return journals.some((j) => j.startsWith(`${name}-`))
    ? 'ext4 (with a journal)'
    : 'ext4 without a journal';
}
