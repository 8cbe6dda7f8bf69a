import type { Config, Continent, NodeConfig } from './config/types.js';
import { OwncdnError } from './errors.js';

/** The node with `default: true` (the config rules guarantee exactly one). */
export function defaultNode(config: Config): NodeConfig {
  const node = config.nodes.find((n) => n.default);
  if (!node)
    throw new OwncdnError(
      'OWNCDN_INTERNAL',
      'config has no default node (loadConfig should have rejected it)',
    );
  return node;
}

/** The nodes that list `continent`, in file order. */
export function nodesFor(config: Config, continent: Continent): NodeConfig[] {
  return config.nodes.filter((n) => n.continents.includes(continent));
}

/** The node called `name`; throws OWNCDN_NODE_UNKNOWN naming the known ones. */
export function findNode(config: Config, name: string): NodeConfig {
  const node = config.nodes.find((n) => n.name === name);
  if (!node) {
    throw new OwncdnError(
      'OWNCDN_NODE_UNKNOWN',
      `no node called ${JSON.stringify(name)} in ${config.file} (expected one of ${config.nodes.map((n) => n.name).join(', ')})`,
    );
  }
  return node;
}

/** Resolves `--only au,fr` to nodes, in file order; every name must exist. */
export function selectNodes(
  config: Config,
  only: readonly string[] | null | undefined,
): NodeConfig[] {
  if (!only || only.length === 0) return [...config.nodes];
  const wanted = new Set(only.map((name) => findNode(config, name).name));
  return config.nodes.filter((n) => wanted.has(n.name));
}

/** True for a node reached as a directory on this machine (no ssh). */
export function isLocalNode(node: NodeConfig): boolean {
  return node.ssh === null;
}

/** Continents each node answers, with the default node's fallback made explicit (for `owncdn check`). */
export function continentCoverage(config: Config): Map<Continent, string[]> {
  const coverage = new Map<Continent, string[]>();
  for (const node of config.nodes) {
    for (const continent of node.continents)
      coverage.set(continent, [...(coverage.get(continent) ?? []), node.name]);
  }
  return coverage;
}
