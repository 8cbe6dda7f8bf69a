export { loadConfig, parseConfig, formatPath } from './config/load.js';
export type { LoadConfigOptions } from './config/load.js';
export { CONTINENTS } from './config/types.js';
export type {
  CertdConfig,
  CertificateConfig,
  Config,
  Continent,
  DnsConfig,
  HeaderRule,
  HealthConfig,
  KeyType,
  NameserverConfig,
  NodeConfig,
  OriginConfig,
  RrlConfig,
  SiteConfig,
  SoaConfig,
  SshConfig,
  StaticRecord,
  StaticRecordType,
  SyncConfig,
} from './config/types.js';
export { DEFAULTS, ACME_DIRECTORIES } from './config/defaults.js';
export { defaultOriginConfig } from './config/normalise.js';
export { isInZone, absoluteName } from './config/rules.js';
export { isHostname } from './config/schema.js';
export {
  ConfigError,
  ERROR_CODES,
  OwncdnError,
  formatConfigIssue,
  isOwncdnError,
} from './errors.js';
export type { ConfigIssue, ErrorCode } from './errors.js';
export { createLogger, createSilentLogger, REDACT_PATHS } from './log.js';
export type { CreateLoggerOptions, Logger, LogLevel } from './log.js';
export {
  replaceSymlink,
  syncDirectory,
  temporarySibling,
  writeFileAtomic,
} from './atomic-write.js';
export type { AtomicWriteOptions } from './atomic-write.js';
export { formatBytes, formatDuration, parseDuration, parseSize } from './duration.js';
export { NODE_LAYOUT, NODE_HEADER, ACME_TOKEN_PATTERN, ACME_CHALLENGE_PREFIX } from './layout.js';
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
export { parseSshTarget } from './transport/ssh.js';
export {
  continentCoverage,
  defaultNode,
  findNode,
  isLocalNode,
  nodesFor,
  selectNodes,
} from './inventory.js';
