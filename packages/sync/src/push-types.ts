import type { NodeState, SyncFailure, SyncOptions } from './events.js';

export interface PushOptions extends SyncOptions {
  /** Directory to publish (default: site.content). */
  readonly content?: string;
  /** List what would change per node; touch nothing. */
  readonly dryRun?: boolean;
  /** Switch the nodes whose upload succeeded even when others failed. */
  readonly allowPartial?: boolean;
  /** Releases kept per node (default: sync.keep). */
  readonly keep?: number;
  /** How long to wait for origins to report the release (default: sync.confirmTimeoutMs), ms. */
  readonly confirmTimeoutMs?: number;
  /** Upload bandwidth limit per node, KiB/s (rsync --bwlimit). */
  readonly bwlimitKiBps?: number;
  /**
   * How unchanged files are recognised: `content-mtime` (default) sets each
   * source file's mtime from its content hash and lets rsync compare size and
   * mtime; `checksum` leaves the source alone and has rsync read every file on
   * both sides (--checksum). Both survive a fresh git checkout.
   */
  readonly detect?: 'content-mtime' | 'checksum';
  /**
   * Have rsync compare every file of the tree being updated, instead of
   * sending only what differs from the release whose tree is reused (as this
   * machine recorded that release). For a node whose old releases were edited
   * by hand. Without a record (published from elsewhere) every file is
   * compared anyway.
   */
  readonly full?: boolean;
  /**
   * File keeping the site's digests between pushes, so unchanged files are
   * not read again (default: `$XDG_CACHE_HOME/owncdn/sync-digests-<key>.json`);
   * null: no cache.
   */
  readonly digestCache?: string | null;
  /**
   * Emit `progress` events (bytes, files, speed) during uploads (default:
   * true). They cost rsync a line per file sent, and this process a read per
   * line: leave them off when nothing shows them.
   */
  readonly progress?: boolean;
  /** The push time that goes into the release id (tests). */
  readonly now?: Date;
}

export interface PushNodeResult {
  readonly node: string;
  readonly label: string;
  readonly state: NodeState;
  /** Release `current` pointed at before the push. */
  readonly previous: string | null;
  /** Release `current` points at now (null when unknown). */
  readonly current: string | null;
  readonly filesTransferred: number;
  readonly filesTotal: number;
  /** `full`: rsync compared every file; `delta`: only the names that differ from the reused tree's release. */
  readonly upload: 'full' | 'delta' | 'none';
  readonly bytesSent: number;
  readonly uploadMs: number;
  /** `confirmed`, `no-origin` (warned), `mismatch` (failed), or `skipped`. */
  readonly confirmation: 'confirmed' | 'no-origin' | 'mismatch' | 'skipped';
  /** Releases removed by retention. */
  readonly pruned: readonly string[];
  /** rsync's itemized changes (dry runs only). */
  readonly changes: readonly string[];
  readonly error: SyncFailure | null;
}

export interface PushResult {
  readonly ok: boolean;
  readonly release: string;
  readonly dryRun: boolean;
  readonly files: number;
  readonly bytes: number;
  readonly nodes: readonly PushNodeResult[];
  /** Spread between the first and last node's switch completing, ms (null when fewer than two switched). */
  readonly switchSkewMs: number | null;
  readonly durationMs: number;
  readonly error: SyncFailure | null;
}
