import { performance } from 'node:perf_hooks';
import { OwncdnError, createSilentLogger, createTransport, selectNodes } from '@owncdn/core';
import type { Config } from '@owncdn/core';
import type { SyncEvent, SyncFailure, SyncOptions } from './events.js';
import { confirmRelease, createHealthClient } from './health.js';
import { closeTransports, readNodeReleases, toFailure } from './node-state.js';
import type { NodeReleases } from './node-state.js';
import { RELEASE_ID } from './release.js';
import { prepareSwitch } from './switch.js';

export interface RollbackOptions extends SyncOptions {
  /** Release to switch to (default: the one before the current release). */
  readonly to?: string;
  /** Say what would be switched; touch nothing. */
  readonly dryRun?: boolean;
  /** How long to wait for origins to report the release, ms (default: sync.confirmTimeoutMs). */
  readonly confirmTimeoutMs?: number;
}

export interface RollbackNodeResult {
  readonly node: string;
  readonly label: string;
  readonly previous: string | null;
  readonly current: string | null;
  readonly confirmation: 'confirmed' | 'no-origin' | 'mismatch' | 'skipped';
}

export interface RollbackResult {
  readonly ok: boolean;
  readonly release: string;
  readonly dryRun: boolean;
  readonly nodes: readonly RollbackNodeResult[];
  readonly switchSkewMs: number | null;
  readonly durationMs: number;
  readonly error: SyncFailure | null;
}

/** The newest complete release older than the node's current one. */
function previousRelease(state: NodeReleases): string | null {
  const current = state.current;
  const older = state.releases.filter((r) => r.complete && (current === null || r.id < current));
  return older.at(-1)?.id ?? null;
}

/**
 * Switches every selected node back to `to` (or to the release before the
 * current one), all at once. Every node must be reachable and hold the whole
 * target release, or nothing is switched: throws OWNCDN_SYNC_RELEASE_UNKNOWN,
 * OWNCDN_SYNC_NOTHING_TO_ROLL_BACK, or the node's connection error.
 */
export async function rollback(
  config: Config,
  options: RollbackOptions = {},
): Promise<RollbackResult> {
  const started = performance.now();
  const log = options.log ?? createSilentLogger();
  const emit = (event: SyncEvent) => options.onEvent?.(event);
  if (options.to !== undefined && !RELEASE_ID.test(options.to)) {
    throw new OwncdnError(
      'OWNCDN_USAGE',
      `--to ${JSON.stringify(options.to)} is not a release id (expected e.g. 20261123T105900Z-0123456789ab; see owncdn sync status)`,
    );
  }
  const nodes = selectNodes(config, options.only);
  const sessions = nodes.map((node) => ({
    node,
    transport: createTransport(config, node, { log }),
  }));
  const agent = createHealthClient();
  try {
    const states = await Promise.all(
      sessions.map(async (s) => {
        emit({ type: 'state', node: s.node.name, state: 'connecting' });
        try {
          return await readNodeReleases(s.transport);
        } catch (error) {
          emit({
            type: 'state',
            node: s.node.name,
            state: 'failed',
            message: toFailure(error).message,
          });
          throw error;
        }
      }),
    );
    let target = options.to;
    if (target === undefined) {
      const candidates = new Set(states.map(previousRelease));
      if (candidates.has(null)) {
        throw new OwncdnError(
          'OWNCDN_SYNC_NOTHING_TO_ROLL_BACK',
          `nothing to roll back to: ${sessions
            .filter((_, i) => states[i] && previousRelease(states[i]) === null)
            .map((s) => s.node.name)
            .join(', ')} has no complete release older than its current one`,
        );
      }
      if (candidates.size > 1) {
        const which = sessions
          .map((s, i) => `${s.node.name}: ${states[i] ? previousRelease(states[i]) : '?'}`)
          .join(', ');
        throw new OwncdnError(
          'OWNCDN_SYNC_RELEASE_UNKNOWN',
          `the nodes' previous releases differ (${which}); pass --to ID`,
        );
      }
      target = [...candidates][0] ?? '';
    }
    const release = target;
    const missing = sessions.filter(
      (_, i) => !states[i]?.releases.some((r) => r.id === release && r.complete),
    );
    if (missing.length > 0) {
      throw new OwncdnError(
        'OWNCDN_SYNC_RELEASE_UNKNOWN',
        `release ${release} is not (completely) on ${missing.map((s) => s.node.name).join(', ')}; see owncdn sync status for the releases each node keeps`,
      );
    }
    const results = sessions.map((s, i): RollbackNodeResult => ({
      node: s.node.name,
      label: s.transport.label,
      previous: states[i]?.current ?? null,
      current: states[i]?.current ?? null,
      confirmation: 'skipped',
    }));
    if (options.dryRun) {
      return {
        ok: true,
        release,
        dryRun: true,
        nodes: results,
        switchSkewMs: null,
        durationMs: Math.round(performance.now() - started),
        error: null,
      };
    }

    const round = await prepareSwitch(
      sessions.map((s) => ({ name: s.node.name, transport: s.transport })),
      release,
    );
    const [unprepared] = round.unprepared.values();
    if (round.unprepared.size > 0 || options.signal?.aborted) {
      await round.cancel();
      if (unprepared instanceof Error) throw unprepared;
      throw new OwncdnError(
        'OWNCDN_SYNC_PUSH_FAILED',
        `rollback to ${release} was interrupted; no node was switched`,
      );
    }
    for (const s of sessions) emit({ type: 'state', node: s.node.name, state: 'switching' });
    const outcome = await round.commit((node, e) =>
      emit({
        type: 'state',
        node,
        state: e === undefined ? 'switched' : 'failed',
        ...(e === undefined ? {} : { message: toFailure(e).message }),
      }),
    );
    const switchSkewMs = outcome.skewMs;
    log.info(
      { release, nodes: [...outcome.switchedAt.keys()], switchSkewMs },
      'release activated (rollback)',
    );
    if (outcome.failed.size > 0) {
      const failures = [...outcome.failed]
        .map(([node, e]) => `${node}: ${toFailure(e).message}`)
        .join('; ');
      throw new OwncdnError(
        'OWNCDN_SYNC_PUSH_FAILED',
        `rollback to ${release} failed on some nodes (${failures}); the others switched: run owncdn sync status`,
      );
    }

    let error: SyncFailure | null = null;
    const confirmed = await Promise.all(
      sessions.map(async (s) => {
        const answer = await confirmRelease(agent, config, s.node, release, {
          timeoutMs: options.confirmTimeoutMs ?? config.sync.confirmTimeoutMs,
          signal: options.signal,
        });
        if (answer.status === 'no-origin')
          emit({
            type: 'warning',
            node: s.node.name,
            message: `no origin answered on ${s.node.name}; switched but not confirmed`,
          });
        else
          emit({
            type: 'state',
            node: s.node.name,
            state: answer.status === 'confirmed' ? 'confirmed' : 'unconfirmed',
          });
        return answer.status;
      }),
    );
    const mismatched = sessions.filter((_, i) => confirmed[i] === 'mismatch');
    if (mismatched.length > 0) {
      error = {
        code: 'OWNCDN_SYNC_NOT_CONFIRMED',
        message: `origin on ${mismatched.map((s) => s.node.name).join(', ')} did not report ${release}`,
      };
    }
    return {
      ok: error === null,
      release,
      dryRun: false,
      nodes: results.map((r, i) => ({
        ...r,
        current: release,
        confirmation: confirmed[i] ?? 'skipped',
      })),
      switchSkewMs,
      durationMs: Math.round(performance.now() - started),
      error,
    };
  } finally {
    await closeTransports(sessions, log);
    await agent.close();
  }
}
