import type { Config } from '@owncdn/core';
import { buildSnapshot } from './answers.js';
import { computeClasses } from './select.js';
import { createGeoIndex, loadGeoTable } from './geo.js';
import type { GeoIndex, GeoTable } from './geo.js';
import { Metrics } from './metrics.js';
import { Responder } from './respond.js';
import { RateLimiter } from './rrl.js';

/**
 * What a process that answers queries holds: the responder and how to swap
 * in new zone data. The same code runs in the single-process server and in
 * each cluster worker, which get the data over IPC.
 */

/** Zone data in a form that crosses IPC (JSON). */
export interface ZoneMessage {
  readonly config: Config;
  readonly up: readonly (readonly [string, boolean])[];
  readonly txt: readonly (readonly [string, readonly string[]])[];
  readonly serial: number;
}

export interface Serving {
  readonly responder: Responder;
  /** Builds and swaps in the answers for `zone`. Calls are applied in order. */
  apply(zone: ZoneMessage): Promise<void>;
}

export interface ServingOptions {
  /** Test knob: the clock RRL counts seconds with. */
  readonly now?: () => number;
}

/** Loads the geo database of the first zone and builds its answers; resolves once it can answer. */
export async function createServing(
  first: ZoneMessage,
  options: ServingOptions = {},
): Promise<Serving> {
  let table: GeoTable;
  let index: GeoIndex | null = null;
  let indexKey = '';
  let rrl: RateLimiter | null = null;
  let rrlKey = '';
  const metrics = new Metrics();

  const build = async (zone: ZoneMessage) => {
    table = await loadGeoTable(zone.config.dns.geoip);
    const classes = computeClasses(zone.config);
    const key = `${table.file}:${Array.from(classes.classOf).join(',')}`;
    if (!index || index.table !== table || key !== indexKey) {
      index = createGeoIndex(table, classes.classOf);
      indexKey = key;
    }
    const limits = zone.config.dns.rrl;
    const nextRrlKey = JSON.stringify(limits);
    if (nextRrlKey !== rrlKey) {
      rrl = limits.enabled ? new RateLimiter(limits, options.now) : null;
      rrlKey = nextRrlKey;
    }
    const snapshot = buildSnapshot({
      config: zone.config,
      up: new Map(zone.up),
      txt: new Map(zone.txt),
      serial: zone.serial,
    });
    return { snapshot, geo: index, maxUdpPayloadBytes: zone.config.dns.maxUdpPayloadBytes, rrl };
  };

  const responder = new Responder(await build(first), metrics);
  let queue: Promise<void> = Promise.resolve();
  return {
    responder,
    apply: (zone) => {
      const run = queue.then(async () => {
        responder.state = await build(zone);
      });
      // The caller hears about a failure; the queue goes on with the next zone.
      queue = run.catch(() => undefined);
      return run;
    },
  };
}
