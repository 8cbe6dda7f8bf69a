import { filterLiteral, parseListLine } from './rsync.js';
import { byName } from './shell-listing.js';
import type { DirEntry } from './types.js';

/** rsync's arguments for listing one path: symlinks as links, names raw (`-8`), sizes plain. */
export const LIST_ARGS = ['--list-only', '--links', '--no-human-readable', '-8'] as const;

/** A parsed `rsync --list-only` line as a DirEntry named `name`. */
function toDirEntry(entry: NonNullable<ReturnType<typeof parseListLine>>, name: string): DirEntry {
  return {
    name,
    type: entry.type,
    ...(entry.target === null ? {} : { target: entry.target }),
  };
}

/** The entries of one directory's `rsync --list-only` output, sorted (its `.` left out). */
export function parseDirListing(lines: readonly string[]): DirEntry[] {
  const entries: DirEntry[] = [];
  for (const line of lines) {
    const entry = parseListLine(line);
    if (entry && entry.name !== '.') entries.push(toDirEntry(entry, entry.name));
  }
  return entries.sort(byName);
}

/**
 * Filters for one recursive listing of the root that holds the directories
 * `rels` (node-relative; '' is the root), their ancestors and their direct
 * entries, and nothing else. Each ends in `- *`.
 */
export function dirsListingFilters(rels: readonly string[]): string[] {
  const includes = new Set<string>();
  for (const rel of rels) {
    const parts = rel === '' ? [] : rel.split('/');
    for (let i = 1; i <= parts.length; i++)
      includes.add(`+ /${parts.slice(0, i).map(filterLiteral).join('/')}/`);
    includes.add(`+ /${[...parts.map(filterLiteral), '*'].join('/')}`);
  }
  return [...[...includes].map((rule) => `--filter=${rule}`), '--filter=- *'];
}

/**
 * The listing made with dirsListingFilters split per directory: each of
 * `rels` to its sorted entries, or null when it is not there. `lines` is null
 * when the root itself is missing.
 */
export function parseDirsListing(
  lines: readonly string[] | null,
  rels: readonly string[],
): Map<string, DirEntry[] | null> {
  const byDir = new Map<string, DirEntry[]>();
  const present = new Set<string>(lines ? [''] : []);
  for (const line of lines ?? []) {
    const entry = parseListLine(line);
    if (!entry || entry.name === '.') continue;
    if (entry.type === 'dir') present.add(entry.name);
    const slash = entry.name.lastIndexOf('/');
    const parent = slash < 0 ? '' : entry.name.slice(0, slash);
    const list = byDir.get(parent) ?? [];
    list.push(toDirEntry(entry, entry.name.slice(slash + 1)));
    byDir.set(parent, list);
  }
  return new Map(
    rels.map((rel) => [rel, present.has(rel) ? (byDir.get(rel) ?? []).sort(byName) : null]),
  );
}
