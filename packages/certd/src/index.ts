export { startCertd, runCertdOnce } from './daemon.js';
export type { CertdOptions, RunningCertd } from './daemon.js';
export type { CertdTimings } from './context.js';
export { DEFAULT_TIMINGS, RETRY_DELAYS_MS } from './context.js';
export type { CertificateOutcome, PassResult } from './pass.js';
export { certdStatus, formatStatus, STATUS_EXPIRY_MARGIN_MS } from './status.js';
export type { CertdStatus, CertificateStatus, NodeStatus } from './status.js';
export { readState } from './state.js';
export type { CertdState, CertificateState, NodeDeployState } from './state.js';
