import { createSilentLogger, createTransport, selectNodes } from '@owncdn/core';
import type { Config } from '@owncdn/core';
import type { SyncFailure, SyncOptions } from './events.js';
import { createHealthClient, probeOrigin } from './health.js';
import type { OriginHealth } from './health.js';
import { readNodeReleases, toFailure } from './node-state.js';

export interface StatusNode {
  readonly node: string;
  readonly label: string;
  readonly reachable: boolean;
  readonly error: SyncFailure | null;
  readonly current: string | null;
  /** Complete releases kept, oldest first. */
  readonly releases: readonly string[];
  /** Releases whose upload never finished (reused or pruned by the next push). */
  readonly incomplete: readonly string[];
  readonly origin: OriginHealth;
}

export interface StatusResult {
  /** True when every node is reachable and they all point at the same release. */
  readonly ok: boolean;
  /** True when every reachable node's current release (and what its origin serves, when it answers) is the same. */
  readonly agree: boolean;
  /** The release all nodes agree on, or null. */
  readonly release: string | null;
  readonly nodes: readonly StatusNode[];
}

/** Reads every selected node's releases and asks its origin what it serves, in parallel. */
export async function status(config: Config, options: SyncOptions = {}): Promise<StatusResult> {
  const log = options.log ?? createSilentLogger();
  const nodes = selectNodes(config, options.only);
  const agent = createHealthClient();
  try {
    const results = await Promise.all(
      nodes.map(async (node): Promise<StatusNode> => {
        const transport = createTransport(config, node, { log });
        options.onEvent?.({ type: 'state', node: node.name, state: 'connecting' });
        const origin = probeOrigin(agent, config, node, {
          timeoutMs: config.dns.health.timeoutMs,
          signal: options.signal,
        });
        try {
          const state = await readNodeReleases(transport);
          options.onEvent?.({ type: 'state', node: node.name, state: 'done' });
          return {
            node: node.name,
            label: transport.label,
            reachable: true,
            error: null,
            current: state.current,
            releases: state.releases.filter((r) => r.complete).map((r) => r.id),
            incomplete: state.releases.filter((r) => !r.complete).map((r) => r.id),
            origin: await origin,
          };
        } catch (error) {
          const failure = toFailure(error);
          options.onEvent?.({
            type: 'state',
            node: node.name,
            state: 'failed',
            message: failure.message,
          });
          return {
            node: node.name,
            label: transport.label,
            reachable: false,
            error: failure,
            current: null,
            releases: [],
            incomplete: [],
            origin: await origin,
          };
        } finally {
          await transport.close();
        }
      }),
    );
    const seen = new Set<string | null>();
    for (const n of results) {
      if (!n.reachable) continue;
      seen.add(n.current);
      if (n.origin.reachable && n.origin.release !== null) seen.add(n.origin.release);
    }
    const agree = seen.size === 1 && !seen.has(null);
    return {
      ok: agree && results.every((n) => n.reachable),
      agree,
      release: agree ? ([...seen][0] ?? null) : null,
      nodes: results,
    };
  } finally {
    await agent.close();
  }
}
