import { performance } from 'node:perf_hooks';
import { NODE_LAYOUT } from '@owncdn/core';
import type { NodeTransport, PreparedSwitch } from '@owncdn/core';
import { releaseDir } from './release.js';

/** One node taking part in a switch of `current`. */
export interface SwitchTarget {
  readonly name: string;
  readonly transport: NodeTransport;
  /** Already prepared (a push prepares each node as soon as its upload is done). */
  readonly prepared?: PreparedSwitch | null;
}

export interface SwitchOutcome {
  /** When each node's switch completed (performance.now() ms). */
  readonly switchedAt: ReadonlyMap<string, number>;
  readonly failed: ReadonlyMap<string, unknown>;
  /** Spread between the first and last completion, ms (null below two nodes). */
  readonly skewMs: number | null;
}

export interface SwitchRound {
  /** Nodes whose switch could not be prepared, with the error. */
  readonly unprepared: ReadonlyMap<string, unknown>;
  /** Flips every prepared node at once; `onDone` hears each node as it finishes. */
  commit(onDone?: (name: string, error?: unknown) => void): Promise<SwitchOutcome>;
  /** Gives up: no node is switched. */
  cancel(): Promise<void>;
}

/**
 * Prepares switching `current` to `releases/<release>` on every target (each
 * a connected rsync waiting for its file list), so that `commit()` flips all
 * of them within moments of each other (NOTES.md: fresh ssh channels at flip
 * time gave 0.42–2.25 s of skew).
 */
export async function prepareSwitch(
  targets: readonly SwitchTarget[],
  release: string,
): Promise<SwitchRound> {
  const prepared = new Map<string, PreparedSwitch>();
  const unprepared = new Map<string, unknown>();
  await Promise.all(
    targets.map(async (t) => {
      try {
        prepared.set(
          t.name,
          t.prepared ??
            (await t.transport.prepareSwitchLink(NODE_LAYOUT.current, releaseDir(release))),
        );
      } catch (error) {
        unprepared.set(t.name, error);
      }
    }),
  );
  return {
    unprepared,
    async commit(onDone) {
      const switchedAt = new Map<string, number>();
      const failed = new Map<string, unknown>();
      await Promise.all(
        [...prepared].map(async ([name, p]) => {
          try {
            await p.commit();
            switchedAt.set(name, performance.now());
            onDone?.(name);
          } catch (error) {
            failed.set(name, error);
            onDone?.(name, error);
          }
        }),
      );
      const times = [...switchedAt.values()];
      const skewMs =
        times.length > 1 ? Math.round((Math.max(...times) - Math.min(...times)) * 10) / 10 : null;
      return { switchedAt, failed, skewMs };
    },
    async cancel() {
      await Promise.all([...prepared.values()].map((p) => p.cancel()));
    },
  };
}
