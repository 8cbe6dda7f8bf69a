import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, sep } from 'node:path';
import type { Logger } from '@owncdn/core';
import type { Found } from './entry.js';

/** DESIGN/STYLE §11: containment after realpath, never a bare prefix (`/srv/www-old`). */
function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/**
 * Lists the files under `root` that may be served, following symlinks that
 * stay inside it. `seen` holds real directories already listed (symlink loops).
 */
export async function walk(
  root: string,
  dir: string,
  prefix: string,
  out: Found[],
  seen: Set<string>,
  log: Logger,
): Promise<void> {
  const names = await readdir(dir, { withFileTypes: true });
  for (const dirent of names) {
    const name = dirent.name;
    // Dotfiles (.git, .env, editor files) are never served; RFC 8615's .well-known at the top is.
    if (name.startsWith('.') && !(prefix === '' && name === '.well-known')) continue;
    // A backslash would let `\..\` spellings reach the lookup; no real site needs one in a name.
    if (name.includes('\\')) continue;
    const path = join(dir, name);
    const urlPath = `${prefix}/${name}`;
    let real = path;
    let stats: Stats;
    if (dirent.isSymbolicLink()) {
      try {
        real = await realpath(path);
      } catch (error) {
        log.debug({ path, err: error }, 'dangling symlink skipped');
        continue;
      }
      if (!isInside(root, real)) {
        log.warn({ path, target: real }, 'symlink leads out of the served directory: not served');
        continue;
      }
      stats = await stat(real);
    } else {
      stats = await lstat(path);
    }
    if (stats.isDirectory()) {
      if (seen.has(real)) continue;
      seen.add(real);
      await walk(root, real, urlPath, out, seen, log);
    } else if (stats.isFile()) {
      out.push({ urlPath, file: real, stats });
    }
  }
}
