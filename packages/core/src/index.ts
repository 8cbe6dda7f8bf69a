// Everything light (errors, layout, atomic writes, durations, inventory) comes
// from runtime.ts, which origin's workers import alone; this adds owncdn.yaml
// parsing, logging and the node transport.
export * from './runtime.js';
export { loadConfig, parseConfig, formatPath } from './config/load.js';
export type { LoadConfigOptions } from './config/load.js';
export { DEFAULTS, ACME_DIRECTORIES } from './config/defaults.js';
export { defaultOriginConfig } from './config/normalise.js';
export { isInZone, absoluteName } from './config/rules.js';
export { isHostname } from './config/schema.js';
export { createLogger, createSilentLogger, REDACT_PATHS } from './log.js';
export type { CreateLoggerOptions } from './log.js';
export type {
  DirEntry,
  FileToWrite,
  NodeTransport,
  PreparedSwitch,
  SyncDirectoryOptions,
  TransferProgress,
  TransferResult,
} from './transport/types.js';
export { createTransport } from './transport/index.js';
export type { CreateTransportOptions } from './transport/index.js';
export { TREE_FLAGS } from './transport/sync-directory.js';
export { parseListLine } from './transport/rsync.js';
export { parseSshTarget } from './transport/ssh.js';
