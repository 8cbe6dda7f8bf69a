/**
 * Entry of a cluster worker (run as plain node from dist/): serves with the
 * settings the primary put in OWNCDN_ORIGIN_SETTINGS and talks to it over IPC.
 */
import { addCounters, createCounters } from './counters.js';
import type { Counters } from './counters.js';
import { createIpcLogger, isToWorker } from './ipc.js';
import type { FromWorker } from './ipc.js';
import { startServing } from './serve.js';
import type { ServingOrigin } from './serve.js';
import type { Settings } from './settings.js';

const send = (message: FromWorker): void => {
  if (process.connected) process.send?.(message);
};
const log = createIpcLogger(send);

// The primary decides when workers stop (it drains them on close); a signal to the
// whole process group (Ctrl-C, systemd) must not kill a worker mid-response.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

const pending = new Map<number, (counters: Counters) => void>();
let nextId = 1;
const gatherCounters = (local: Counters): Promise<Counters> =>
  new Promise((resolve) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      pending.delete(id);
      resolve(local);
    }, 2_000);
    pending.set(id, (counters) => {
      clearTimeout(timer);
      resolve(counters);
    });
    send({ type: 'gather', id });
  });

let origin: ServingOrigin | null = null;
/** File events that arrived while the site was loading: applied once serving (a path the load already saw is only read again). */
let changedWhileStarting: Set<string> | null = null;
let starting = true;
let closing = false;
const done = (): void => {
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.disconnect?.();
};
const shutDown = (): void => {
  if (origin === null) return done();
  origin.close().then(done, (error: unknown) => {
    log.error({ err: error }, 'worker close failed');
    done();
  });
};
/** Stops serving and lets the process end (a close during startup runs once startup settles). */
const close = (): void => {
  if (closing) return;
  closing = true;
  if (!starting) shutDown();
};

process.on('message', (message: unknown) => {
  if (!isToWorker(message)) return;
  if (message.type === 'close') close();
  else if (message.type === 'reload') {
    const reload = origin?.reload(message.settings ?? undefined) ?? Promise.resolve();
    void reload.then(() => send({ type: 'reloaded', id: message.id }));
  } else if (message.type === 'changed') {
    if (origin !== null) origin.applyChanges(new Set(message.paths));
    else {
      changedWhileStarting ??= new Set();
      for (const path of message.paths) changedWhileStarting.add(path);
    }
  } else if (message.type === 'counters') {
    send({
      type: 'counters',
      id: message.id,
      counters: origin?.state.counters ?? createCounters(),
    });
  } else if (message.type === 'gathered') {
    const sum = createCounters();
    addCounters(sum, message.counters);
    pending.get(message.id)?.(sum);
    pending.delete(message.id);
  }
});
process.on('disconnect', close);

const raw = process.env.OWNCDN_ORIGIN_SETTINGS;
if (raw === undefined) {
  send({
    type: 'failed',
    code: 'OWNCDN_INTERNAL',
    message: 'worker started without OWNCDN_ORIGIN_SETTINGS',
  });
  starting = false;
  close();
} else {
  // Written by our own primary a moment ago from a checked Settings object.
  const settings = JSON.parse(raw) as Settings;
  // The primary watches the files for every worker (see cluster.ts).
  startServing(settings, log, { gatherCounters, watch: false }).then(
    (started) => {
      origin = started;
      starting = false;
      if (closing) return shutDown();
      send({ type: 'listening', address: started.address, release: started.state.release });
      if (changedWhileStarting !== null) started.applyChanges(changedWhileStarting);
      changedWhileStarting = null;
    },
    (error: unknown) => {
      const code =
        typeof error === 'object' && error !== null && 'code' in error
          ? String(error.code)
          : 'OWNCDN_INTERNAL';
      send({
        type: 'failed',
        code,
        message: error instanceof Error ? error.message : String(error),
      });
      starting = false;
      close();
    },
  );
}
