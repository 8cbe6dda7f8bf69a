import { CONTINENTS, nodesFor } from '@owncdn/core';
import type { Config, NodeConfig } from '@owncdn/core';

/**
 * Continents grouped by the nodes the config gives them: continents with the
 * same list always get the same answer, whatever the health, so they share
 * one precomputed response (and one ECS scope run).
 */
export interface AnswerClasses {
  /** Continent index (CONTINENTS order, then 7 = unknown) → class. */
  readonly classOf: Uint8Array;
  /** Class → the nodes the config lists for it (empty: only the fallbacks). */
  readonly nodes: readonly (readonly NodeConfig[])[];
}

export function computeClasses(config: Config): AnswerClasses {
  const keys: string[] = [];
  const nodes: NodeConfig[][] = [];
  const classOf = new Uint8Array(CONTINENTS.length + 1);
  const lists = [...CONTINENTS.map((c) => nodesFor(config, c)), []];
  lists.forEach((list, continent) => {
    const key = list.map((n) => n.name).join(',');
    let cls = keys.indexOf(key);
    if (cls < 0) {
      cls = keys.length;
      keys.push(key);
      nodes.push(list);
    }
    classOf[continent] = cls;
  });
  return { classOf, nodes };
}

/**
 * Issue #4's selection: the healthy nodes the config lists → the default node
 * if healthy → any healthy node → all nodes. Never empty.
 */
export function pickNodes(
  listed: readonly NodeConfig[],
  all: readonly NodeConfig[],
  up: ReadonlyMap<string, boolean>,
): NodeConfig[] {
  const healthy = (n: NodeConfig) => up.get(n.name) !== false;
  const listedUp = listed.filter(healthy);
  if (listedUp.length > 0) return listedUp;
  const fallback = all.find((n) => n.default);
  if (fallback && healthy(fallback)) return [fallback];
  const anyUp = all.filter(healthy);
  return anyUp.length > 0 ? anyUp : [...all];
}
