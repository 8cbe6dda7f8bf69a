import type { Config, NodeConfig } from '../config/types.js';
import { createSilentLogger } from '../log.js';
import type { Logger } from '../log.js';
import { createLocalTransport } from './local.js';
import { createRemoteTransport } from './remote.js';
import type { NodeTransport } from './types.js';

export interface CreateTransportOptions {
  readonly log?: Logger;
}

/**
 * The transport for `node`: the filesystem for a local node (no `ssh`), the
 * system ssh and rsync otherwise. Opens no connection until first used; call
 * `close()` when done to end the shared ssh connection.
 */
export function createTransport(
  config: Config,
  node: NodeConfig,
  options: CreateTransportOptions = {},
): NodeTransport {
  const log = (options.log ?? createSilentLogger()).child({ node: node.name });
  return node.ssh === null
    ? createLocalTransport(node, log)
    : createRemoteTransport(config, node, log);
}
