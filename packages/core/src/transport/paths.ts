import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, sep } from 'node:path';
import { OwncdnError } from '../errors.js';

/**
 * Checks a path given relative to a node's root and returns it normalised
 * (`a/b`, or `''` for the root itself). Absolute paths, `..` segments,
 * backslashes and NUL bytes are refused with OWNCDN_PATH_UNSAFE, so nothing
 * can reach outside the root whatever the caller passes.
 */
export function checkNodePath(path: string, label: string): string {
  const unsafe = (why: string) =>
    new OwncdnError(
      'OWNCDN_PATH_UNSAFE',
      `path ${JSON.stringify(path)} on ${label} is unsafe: ${why} (expected a path relative to the node's root)`,
    );
  if (path.includes('\0')) throw unsafe('it contains a NUL byte');
  if (path.includes('\\')) throw unsafe('it contains a backslash');
  if (isAbsolute(path) || path.startsWith('/')) throw unsafe('it is absolute');
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw unsafe('it contains ".."');
  return segments.join('/');
}

/** checkNodePath for a path below the root: the root itself is refused too (`action`: `remove`, …). */
export function checkBelowRoot(path: string, label: string, action: string): string {
  const rel = checkNodePath(path, label);
  if (rel === '')
    throw new OwncdnError('OWNCDN_PATH_UNSAFE', `refusing to ${action} the root of ${label}`);
  return rel;
}

/** The last segment of a checked path and its parent (`''` for the root). */
export function splitNodePath(path: string): { parent: string; name: string } {
  const parent = posix.dirname(path);
  return { parent: parent === '.' ? '' : parent, name: posix.basename(path) };
}

/**
 * Checks that a symlink target (relative to the link's directory) stays
 * inside the root, and returns it unchanged.
 */
export function checkLinkTarget(linkPath: string, target: string, label: string): string {
  if (isAbsolute(target)) {
    throw new OwncdnError(
      'OWNCDN_PATH_UNSAFE',
      `link target ${JSON.stringify(target)} on ${label} is absolute (expected a path relative to the link)`,
    );
  }
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  if (resolved === '..' || resolved.startsWith('../') || target.includes('\0')) {
    throw new OwncdnError(
      'OWNCDN_PATH_UNSAFE',
      `link ${linkPath} -> ${target} on ${label} points outside the node's root`,
    );
  }
  return target;
}

/**
 * For a local node: the absolute path of `relative` under `root`, after
 * checking that the deepest existing ancestor of it, with symlinks resolved,
 * is still inside root (a symlinked directory must not carry a write outside).
 */
export async function resolveInsideRoot(
  root: string,
  relative: string,
  label: string,
): Promise<string> {
  const absolute = relative === '' ? root : join(root, relative);
  const realRoot = await realpath(root).catch(() => root);
  let probe = relative === '' ? root : dirname(absolute);
  for (;;) {
    const real = await realpath(probe).catch(() => null);
    if (real !== null) {
      if (real !== realRoot && !real.startsWith(realRoot + sep)) {
        throw new OwncdnError(
          'OWNCDN_PATH_UNSAFE',
          `path ${JSON.stringify(relative)} on ${label} leads outside the node's root through a symlink (${real})`,
        );
      }
      return absolute;
    }
    if (probe === root || probe === dirname(probe)) return absolute;
    probe = dirname(probe);
  }
}
