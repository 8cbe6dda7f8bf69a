export { push } from './push.js';
export type { PushNodeResult, PushOptions, PushResult } from './push-types.js';
export { rollback } from './rollback.js';
export type { RollbackNodeResult, RollbackOptions, RollbackResult } from './rollback.js';
export { status } from './status.js';
export type { StatusNode, StatusResult } from './status.js';
export type { NodeState, SyncEvent, SyncFailure, SyncOptions } from './events.js';
export type { OriginHealth } from './health.js';
export { RELEASE_ID, hashSource, makeReleaseId, publishFilters } from './release.js';
