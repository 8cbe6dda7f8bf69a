import { runWorker } from './cluster.js';

// Entry of a node:cluster worker forked by startGeodns (see cluster.ts).
runWorker();
