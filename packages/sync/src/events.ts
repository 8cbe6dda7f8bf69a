import type { Logger } from '@owncdn/core';

/** Where a node is in a push, rollback or status run (the CLI shows one live line per node). */
export type NodeState =
  | 'connecting'
  | 'uploading'
  | 'uploaded'
  | 'unchanged'
  | 'failed'
  | 'switching'
  | 'switched'
  | 'not-switched'
  | 'confirmed'
  | 'unconfirmed'
  | 'done';

/** Progress events: packages never print; the CLI renders these. */
export type SyncEvent =
  | {
      readonly type: 'release';
      readonly release: string;
      readonly files: number;
      readonly bytes: number;
      readonly reused: boolean;
    }
  | {
      readonly type: 'state';
      readonly node: string;
      readonly state: NodeState;
      readonly message?: string;
    }
  | {
      readonly type: 'progress';
      readonly node: string;
      readonly bytes: number;
      readonly percent: number;
      readonly bytesPerSecond: number;
      readonly files: number;
    }
  | { readonly type: 'warning'; readonly node: string | null; readonly message: string };

/** Options push, rollback and status share. */
export interface SyncOptions {
  /** Limit to these node names (`--only au,fr`); every name must exist. */
  readonly only?: readonly string[] | null;
  readonly log?: Logger;
  /** Aborting stops transfers; a push interrupted before the switch leaves every node on its old release. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: SyncEvent) => void;
}

/** A failure as it appears in a result (and in `--json`). */
export interface SyncFailure {
  readonly code: string;
  readonly message: string;
}
