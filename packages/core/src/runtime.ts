/**
 * The light part of @owncdn/core for hot processes that neither read
 * owncdn.yaml nor log through pino themselves (origin's cluster workers log
 * over IPC): errors, the node layout, atomic writes, durations and the
 * inventory helpers — without zod, yaml, pino or execa, which cost each
 * process ~20 MiB and ~0.3 s to load. Everything here is also exported by
 * `@owncdn/core`.
 */
export {
  ConfigError,
  ERROR_CODES,
  OwncdnError,
  formatConfigIssue,
  isOwncdnError,
} from './errors.js';
export type { ConfigIssue, ErrorCode } from './errors.js';
export type { Logger, LogLevel } from './log.js';
export {
  replaceSymlink,
  syncDirectory,
  temporarySibling,
  writeFileAtomic,
} from './atomic-write.js';
export type { AtomicWriteOptions } from './atomic-write.js';
export { formatBytes, formatDuration, parseDuration, parseSize } from './duration.js';
export { NODE_LAYOUT, NODE_HEADER, ACME_TOKEN_PATTERN, ACME_CHALLENGE_PREFIX } from './layout.js';
export {
  continentCoverage,
  defaultNode,
  findNode,
  isLocalNode,
  nodesFor,
  selectNodes,
} from './inventory.js';
export { CONTINENTS } from './config/types.js';
export type * from './config/types.js';
