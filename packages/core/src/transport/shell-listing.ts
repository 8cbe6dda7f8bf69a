// Listing a node's directories through its shell (`sh`), for deploy users
// that have one: one ssh session (~8 ms on loopback) where an rsync listing
// costs ~50 ms (rsync waits for its ssh child in 20 ms sleeps), and it can
// ride on the connection's first session (see SshSession.connect), so a push
// learns a node's state without a round trip of its own. Users restricted by
// rrsync have no shell: they are listed by rsync (rsync-listing.ts).
import type { DirEntry } from './types.js';
import { shCommand } from './ssh.js';

/** Orders directory entries by name, code unit by code unit (as every listing here is sorted). */
export function byName(a: { readonly name: string }, b: { readonly name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Separates what came before (the greeting's `rsync --version`) from the listing. */
const MARKER = '\n@owncdn-listing@\n';
/** The last record: a listing cut short (a killed shell) lacks it. */
const END = '#end';

/**
 * The script, run as `sh -c SCRIPT sh ROOT DIR…` (shCommand). One line,
 * POSIX sh, no `!` (csh would expand it even in single quotes): records separated by NUL, `=dir` or `?dir` (missing) before each
 * directory's entries, `l<name>` then its target, `d`, `f` or `o<name>`.
 * readlink strips trailing newlines of a target; parseShellListing refuses an
 * empty one, and a listing that does not parse is taken again by rsync.
 */
const LISTING_SCRIPT = [
  `printf "${MARKER.replaceAll('\n', '\\n')}"`,
  'r=$1; shift',
  'if cd "$r" 2>/dev/null; then for d do if [ -d "./$d" ]; then printf "=%s\\000" "$d"; else printf "?%s\\000" "$d"; continue; fi; for f in "./$d"/* "./$d"/.*; do n=${f##*/}; case $n in .|..) continue;; esac; if [ -L "$f" ]; then printf "l%s\\000%s\\000" "$n" "$(readlink "$f")"; elif [ -d "$f" ]; then printf "d%s\\000" "$n"; elif [ -f "$f" ]; then printf "f%s\\000" "$n"; elif [ -e "$f" ]; then printf "o%s\\000" "$n"; fi; done; done',
  'else for d do printf "?%s\\000" "$d"; done; fi',
  `printf "${END}\\000"`,
].join('; ');

/**
 * The command listing `rels` (relative to `root`) through the node's shell;
 * with `withVersion`, `rsync --version` runs first (the connection's greeting:
 * its exit status and output say what answers there, as the plain greeting does).
 */
export function shellListingCommand(
  root: string,
  rels: readonly string[],
  withVersion: boolean,
): string {
  const script = withVersion ? `rsync --version || exit; ${LISTING_SCRIPT}` : LISTING_SCRIPT;
  return shCommand(script, [root, ...rels]);
}

/** What the command printed before the listing (the greeting's `rsync --version`). */
export function beforeListing(stdout: string): string {
  const at = stdout.indexOf(MARKER);
  return at < 0 ? stdout : stdout.slice(0, at);
}

/**
 * The listing of each of `rels` (null: missing) from the command's stdout, or
 * null when it is not a whole listing of exactly those directories.
 */
export function parseShellListing(
  stdout: string,
  rels: readonly string[],
): Map<string, DirEntry[] | null> | null {
  const at = stdout.indexOf(MARKER);
  if (at < 0) return null;
  const records = stdout.slice(at + MARKER.length).split('\0');
  if (records.pop() !== '' || records.pop() !== END) return null;
  const listed = new Map<string, DirEntry[] | null>();
  let entries: DirEntry[] | null = null;
  for (let i = 0; i < records.length; i++) {
    const record = records[i] ?? '';
    const kind = record[0];
    const name = record.slice(1);
    if (kind === '=' || kind === '?') {
      entries = kind === '=' ? [] : null;
      listed.set(name, entries);
    } else if (entries === null || name === '') {
      return null;
    } else if (kind === 'l') {
      const target = records[++i];
      if (!target) return null;
      entries.push({ name, type: 'symlink', target });
    } else if (kind === 'd' || kind === 'f' || kind === 'o') {
      entries.push({ name, type: kind === 'd' ? 'dir' : kind === 'f' ? 'file' : 'other' });
    } else return null;
  }
  if (listed.size !== new Set(rels).size || rels.some((r) => !listed.has(r))) return null;
  for (const list of listed.values()) list?.sort(byName);
  return listed;
}
