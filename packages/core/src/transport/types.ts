import type { NodeConfig } from '../config/types.js';

/**
 * How sync and certd reach a node: over the system ssh and rsync for remote
 * nodes, or the local filesystem for local ones (no `ssh` in owncdn.yaml).
 * Every path argument is relative to the node's root and may not escape it.
 *
 * Remote operations other than `run` work with rsync alone, so they keep
 * working for a deploy user restricted by an rrsync forced command (README,
 * least privilege); `listDirs` uses the shell where there is one (faster).
 */
export interface NodeTransport {
  readonly node: NodeConfig;
  /** For messages: `fr (deploy@fr.example.org)` or `fr (local /srv/fr)`. */
  readonly label: string;
  /**
   * True when calls may overlap, e.g. a prepared switch waiting while a link
   * is written. False behind rrsync, which lets one rsync at a time into its
   * directory (calls then queue), and before the first call has told.
   */
  readonly concurrent: boolean;

  /**
   * Copies the contents of local directory `source` into `<root>/<dest>/`
   * (rsync semantics: `source/` → `dest/`). Throws OwncdnError with a
   * specific code for unreachable hosts, refused keys, changed host keys,
   * rsync missing, disk full and permission problems.
   */
  syncDirectory(
    source: string,
    dest: string,
    options?: SyncDirectoryOptions,
  ): Promise<TransferResult>;

  /**
   * Writes a set of files so readers see the old set or the new set, never a
   * mix: the files go to a fresh versioned directory beside `dir`, then `dir`
   * (a symlink) is switched to it and the previous version removed. The
   * version directory is `.<name>.<stamp>` beside `dir` (hidden from listings).
   */
  putFileSet(dir: string, files: readonly FileToWrite[]): Promise<void>;

  /**
   * Makes `<root>/<dest>` a copy of the directory `<root>/<source>` whose
   * files are hard links to the source's (`cp -al`): a tree of 20,000 files
   * in ~0.2 s, where rsync's `--link-dest` takes seconds. Resolves false,
   * touching nothing, where the node cannot (behind rrsync, which runs rsync
   * only), `source` is not a directory or `dest` exists. Throws when the copy
   * fails; `dest` may then hold part of the tree.
   */
  linkCopy(source: string, dest: string): Promise<boolean>;

  /** Writes one file atomically (temporary name, then rename). */
  putFile(path: string, data: string | Uint8Array, mode?: number): Promise<void>;

  /** Removes files or directories (recursively); missing ones are not an error. */
  remove(paths: readonly string[]): Promise<void>;

  /** Lists a directory; null when it does not exist. */
  list(dir: string): Promise<DirEntry[] | null>;

  /**
   * Lists several directories at once, by path as given (`''` is the root);
   * null for one that does not exist. On a remote node: one shell command
   * (the first call, made before any other, rides on the connection's first
   * session), or one rsync call behind rrsync.
   */
  listDirs(dirs: readonly string[]): Promise<Map<string, DirEntry[] | null>>;

  /** The target of a symlink as stored (e.g. `releases/2026…`), or null when there is none. */
  readLink(path: string): Promise<string | null>;

  /** Points the symlink `path` at `target` atomically (new link renamed over the old). */
  switchLink(path: string, target: string): Promise<void>;

  /**
   * Does everything of `switchLink` that can be done ahead (a temporary link
   * locally; a connected rsync waiting for its file list remotely), so that
   * `commit()` on several nodes at once flips them within milliseconds of
   * each other. `cancel()` leaves the link as it was.
   */
  prepareSwitchLink(path: string, target: string): Promise<PreparedSwitch>;

  /**
   * Runs a shell command on the node (local nodes: in a shell with the root as
   * working directory). Throws OWNCDN_REMOTE_COMMAND_FAILED on a non-zero exit,
   * and for rrsync-restricted users, who may run rsync only.
   */
  run(
    command: string,
    options?: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<{ stdout: string; stderr: string }>;

  /** Ends the shared ssh connection (ControlMaster), if any. */
  close(): Promise<void>;
}

export interface PreparedSwitch {
  /** Flips the link; resolves once it points at the new target. */
  commit(): Promise<void>;
  /** Gives up without touching the link. */
  cancel(): Promise<void>;
}

export interface FileToWrite {
  readonly name: string;
  readonly data: string | Uint8Array;
  /** Default 0o644; private keys 0o600. */
  readonly mode?: number;
}

export interface DirEntry {
  readonly name: string;
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  /** A symlink's target as stored (`../trees/3`); absent for other types. */
  readonly target?: string;
}

export interface SyncDirectoryOptions {
  /**
   * Directories (relative to root) whose identical files are hard-linked
   * instead of sent (rsync `--link-dest`, passed as absolute paths; at most 20).
   */
  readonly linkDest?: string | readonly string[];
  /** Delete files in dest that are not in source. */
  readonly delete?: boolean;
  /** Compare by content, not size and mtime (survives a fresh git checkout). */
  readonly checksum?: boolean;
  /**
   * Keep file mtimes (rsync `-t`, directories excepted). Only useful when the
   * source's mtimes mean something, e.g. set from the content: then size and
   * mtime are a content check that reads no file.
   */
  readonly preserveTimes?: boolean;
  /** List what would change; touch nothing. */
  readonly dryRun?: boolean;
  /**
   * Report each changed name in `TransferResult.changes` (default true).
   * False: rsync prints no line per file (a first push of 20,000 files is
   * 20,000 lines per node for nothing when only the totals are wanted).
   */
  readonly listChanges?: boolean;
  /** rsync filter rules (`- .*`, `+ /.well-known/`), applied in order before `exclude`. */
  readonly filters?: readonly string[];
  readonly exclude?: readonly string[];
  /** Upload bandwidth limit (rsync `--bwlimit`), KiB/s. */
  readonly bwlimitKiBps?: number;
  /**
   * Transfer only these names (relative to source; rsync `--files-from`,
   * without recursion) and remove `remove` from dest (names no longer in
   * source; a directory goes with its contents). For a dest whose content the
   * caller knows: only the differences are looked at on either side, not the
   * whole tree. `delete` and `linkDest` do not apply then.
   */
  readonly only?: { readonly send: readonly string[]; readonly remove: readonly string[] };
  readonly signal?: AbortSignal;
  /**
   * Called as bytes move. Only then does rsync report progress: a line per
   * file sent (20,000 small files, 20,000 lines to read and parse per node).
   */
  readonly onProgress?: (progress: TransferProgress) => void;
}

export interface TransferProgress {
  readonly bytes: number;
  /** 0–100 of the whole transfer, as rsync estimates it. */
  readonly percent: number;
  readonly bytesPerSecond: number;
  /** Files sent so far (rsync's `xfr#`), when rsync reported it. */
  readonly files?: number;
}

export interface TransferResult {
  /** Files whose content was sent (not hard-linked, not unchanged). */
  readonly filesTransferred: number;
  readonly filesTotal: number;
  /** Bytes put on the wire, as rsync counts them. */
  readonly bytesSent: number;
  /** rsync's itemized changes (`>f+++++++++ index.html`), one per line; filled for dry runs. */
  readonly changes: readonly string[];
}
