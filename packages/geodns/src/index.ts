export { startGeodns, nextSerial } from './daemon.js';
export type { GeodnsAddress, RunningGeodns, StartGeodnsOptions } from './daemon.js';
export type { NodeStatus, Override, ProbeResult } from './health.js';
