import type { SyncDirectoryOptions, TransferResult } from './types.js';
import { CHANGES_FLAG, runRsync, transferResult } from './rsync.js';
import type { RsyncRun } from './rsync.js';

/**
 * Flags for publishing a tree: recursive, symlinks as symlinks, sane modes
 * and no owner/group games. No `-t`: a new mtime (every file after a fresh
 * `git checkout`) would break `--link-dest` even with `--checksum` (NOTES.md);
 * `-p` with fixed modes keeps hard-linkable files' attributes identical.
 */
export const TREE_FLAGS = ['-rlp', '--chmod=D755,F644'] as const;

/**
 * Flags for sending a list of names (`only`): the list on stdin, NUL-separated
 * (names may hold newlines); `--files-from` implies `-R` and `--dirs` but not
 * `-r`, so a listed directory brings no content it was not asked for. A
 * listed name missing from source is a deletion (`--delete-missing-args`),
 * of a whole directory with `--force`.
 */
const ONLY_FLAGS = [
  '-lp',
  '--chmod=D755,F644',
  '--files-from=-',
  '--from0',
  '--delete-missing-args',
  '--force',
] as const;

/** Output flags every transfer uses: totals, with names as bytes (`-8`). */
const REPORT_FLAGS = ['--stats', '--no-human-readable', '-8'] as const;

/** Running totals for `onProgress`: rsync prints one line per file sent. */
const PROGRESS_FLAG = '--info=progress2';

export interface SyncEndpoints {
  /** rsync's `-e` command, or null for a local copy. */
  readonly rsh: string | null;
  /** Destination argument, with trailing slash (`/srv/x/releases/ID/` or `host:/var/lib/owncdn/releases/ID/`). */
  readonly dest: string;
  /** `--link-dest` values as the receiving rsync must see them (absolute, or rrsync-rooted). */
  readonly linkDests: readonly string[];
}

/** Builds the rsync argument list for `syncDirectory` (exported for tests and dry runs). */
export function syncDirectoryArgs(
  source: string,
  endpoints: SyncEndpoints,
  options: SyncDirectoryOptions,
): string[] {
  const only = options.only;
  const args: string[] = [
    ...(only ? ONLY_FLAGS : TREE_FLAGS),
    ...REPORT_FLAGS,
    ...(options.listChanges === false ? [] : [CHANGES_FLAG]),
    ...(options.onProgress ? [PROGRESS_FLAG] : []),
    '--mkpath',
  ];
  if (endpoints.rsh) args.push('-e', endpoints.rsh);
  if (options.checksum) args.push('--checksum');
  if (options.preserveTimes) args.push('--times', '--omit-dir-times');
  if (options.delete && !only) args.push('--delete');
  if (options.dryRun) args.push('--dry-run');
  if (options.bwlimitKiBps) args.push(`--bwlimit=${options.bwlimitKiBps}`);
  if (!only) for (const dir of endpoints.linkDests) args.push(`--link-dest=${dir}`);
  for (const rule of options.filters ?? []) args.push(`--filter=${rule}`);
  for (const pattern of options.exclude ?? []) args.push(`--exclude=${pattern}`);
  args.push(source.endsWith('/') ? source : `${source}/`, endpoints.dest);
  return args;
}

/** Runs the transfer; returns the raw run so the caller can classify a failure. */
export async function runSyncDirectory(
  source: string,
  endpoints: SyncEndpoints,
  options: SyncDirectoryOptions,
): Promise<{ run: RsyncRun; result: TransferResult; args: string[] }> {
  const args = syncDirectoryArgs(source, endpoints, options);
  const only = options.only;
  const run = await runRsync(args, {
    signal: options.signal,
    onProgress: options.onProgress,
    // Removals are names that no longer exist in source: rsync turns them into deletions.
    ...(only ? { input: [...only.send, ...only.remove].map((n) => `${n}\0`).join('') } : {}),
  });
  return { run, result: transferResult(run), args };
}
