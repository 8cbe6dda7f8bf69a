import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { createRequire } from 'node:module';
import { OwncdnError } from '@owncdn/core';
import type { Logger } from '@owncdn/core';
import type { MetricsData } from './metrics.js';
import { listenDns } from './server.js';
import type { DnsListeners } from './server.js';
import { createServing } from './serving.js';
import type { Serving, ZoneMessage } from './serving.js';

/**
 * Several processes answering on the same sockets (node:cluster: on Linux
 * the workers share the primary's UDP socket, and TCP connections are
 * handed out round-robin). The primary keeps health checks, the API and
 * reloads, and sends every worker the zone data.
 */

/** How the daemon drives whatever answers queries, in-process or in workers. */
export interface DnsBackend {
  readonly addresses: readonly string[];
  readonly workers: number;
  /** Resolves once every answering process serves `zone`. */
  apply(zone: ZoneMessage): Promise<void>;
  metrics(): Promise<MetricsData[]>;
  close(): Promise<void>;
}

/** Messages from primary to worker. */
type ToWorker =
  | { type: 'start'; listen: readonly string[]; tcpIdleTimeoutMs: number; zone: ZoneMessage }
  | { type: 'zone'; zone: ZoneMessage }
  | { type: 'metrics'; id: number }
  | { type: 'stop' };

/** Messages from worker to primary. */
type FromWorker =
  | { type: 'ready' }
  | { type: 'listening'; addresses: string[] }
  | { type: 'failed'; error: string; code: string }
  | { type: 'applied'; serial: number }
  | { type: 'apply-failed'; serial: number; error: string }
  | { type: 'metrics'; id: number; data: MetricsData };

/** Wait before replacing a worker that exited: a crash loop costs one fork a second at most. */
const RESPAWN_DELAY_MS = 1_000;
/** A worker that does not come up or acknowledge within this long is considered broken. */
const WORKER_TIMEOUT_MS = 20_000;

/**
 * The compiled worker entry (dist/worker.js, found by package name, so the
 * bundled `owncdn` program finds it too), or null when running from
 * TypeScript sources (tests): then one process serves.
 */
export function workerEntry(): string | null {
  if (import.meta.url.endsWith('.ts')) return null;
  return createRequire(import.meta.url).resolve('@owncdn/geodns/worker');
}

function isMessage(value: unknown): value is FromWorker {
  return (
    typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string'
  );
}

/** Forks `count` workers serving `listen`, and resolves once all of them listen. */
export async function startWorkers(
  count: number,
  entry: string,
  listen: readonly string[],
  tcpIdleTimeoutMs: number,
  first: ZoneMessage,
  log: Logger,
): Promise<DnsBackend> {
  cluster.setupPrimary({ exec: entry, args: [], serialization: 'json' });
  let zone = first;
  let closing = false;
  let nextId = 0;
  const waiters = new Map<number, (data: MetricsData) => void>();
  const workers = new Set<Worker>();

  const fork = (): Promise<{ worker: Worker; addresses: string[] }> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork();
      workers.add(worker);
      const timer = setTimeout(
        () =>
          reject(
            new OwncdnError(
              'OWNCDN_DNS_LISTEN_FAILED',
              `worker ${worker.id} did not start within ${WORKER_TIMEOUT_MS} ms`,
            ),
          ),
        WORKER_TIMEOUT_MS,
      );
      worker.on('message', (message: unknown) => {
        if (!isMessage(message)) return;
        if (message.type === 'ready') {
          send(worker, { type: 'start', listen, tcpIdleTimeoutMs, zone });
        } else if (message.type === 'listening') {
          clearTimeout(timer);
          resolve({ worker, addresses: message.addresses });
        } else if (message.type === 'failed') {
          clearTimeout(timer);
          reject(
            new OwncdnError(
              message.code === 'OWNCDN_DNS_GEOIP_INVALID'
                ? 'OWNCDN_DNS_GEOIP_INVALID'
                : 'OWNCDN_DNS_LISTEN_FAILED',
              message.error,
            ),
          );
        } else if (message.type === 'metrics') {
          waiters.get(message.id)?.(message.data);
        } else if (message.type === 'apply-failed') {
          log.error(
            { worker: worker.id, serial: message.serial, error: message.error },
            'worker could not apply new zone data, it keeps the previous data',
          );
        }
      });
      worker.on('exit', (code, signal) => {
        workers.delete(worker);
        clearTimeout(timer);
        if (closing) return;
        log.error({ worker: worker.id, code, signal }, 'geodns worker exited, starting another');
        reject(
          new OwncdnError(
            'OWNCDN_DNS_LISTEN_FAILED',
            `worker ${worker.id} exited (${signal ?? code ?? '?'}) while starting`,
          ),
        );
        // A pause, so a worker that dies at once does not turn into a busy fork loop.
        setTimeout(() => {
          if (closing) return;
          fork().then(
            (started) => log.info({ worker: started.worker.id }, 'geodns worker replaced'),
            (error: unknown) =>
              log.error({ error: String(error) }, 'could not replace a geodns worker'),
          );
        }, RESPAWN_DELAY_MS).unref();
      });
    });

  const send = (worker: Worker, message: ToWorker) => {
    if (worker.isConnected()) worker.send(message);
  };

  const close = async () => {
    closing = true;
    await Promise.all(
      [...workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => worker.process.kill('SIGKILL'), 5_000);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            send(worker, { type: 'stop' });
          }),
      ),
    );
  };

  let addresses: string[];
  try {
    // One first: with port 0 the others then share the port it got.
    const started = await fork();
    addresses = started.addresses;
    await Promise.all(Array.from({ length: count - 1 }, () => fork()));
  } catch (error) {
    await close();
    throw error;
  }

  const ack = (worker: Worker, serial: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, WORKER_TIMEOUT_MS);
      function done() {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', done);
        resolve();
      }
      function onMessage(message: unknown) {
        if (
          isMessage(message) &&
          (message.type === 'applied' || message.type === 'apply-failed') &&
          message.serial === serial
        )
          done();
      }
      worker.on('message', onMessage);
      worker.once('exit', done);
    });

  return {
    addresses,
    workers: count,
    apply: async (next) => {
      zone = next;
      const all = [...workers];
      const acks = all.map((worker) => ack(worker, next.serial));
      for (const worker of all) send(worker, { type: 'zone', zone: next });
      await Promise.all(acks);
    },
    metrics: async () => {
      const all = [...workers];
      const parts = await Promise.all(
        all.map(
          (worker) =>
            new Promise<MetricsData | null>((resolve) => {
              const id = nextId++;
              const timer = setTimeout(() => {
                waiters.delete(id);
                resolve(null);
              }, 2_000);
              waiters.set(id, (data) => {
                clearTimeout(timer);
                waiters.delete(id);
                resolve(data);
              });
              send(worker, { type: 'metrics', id });
            }),
        ),
      );
      return parts.filter((p): p is MetricsData => p !== null);
    },
    close,
  };
}

function isToWorker(value: unknown): value is ToWorker {
  return (
    typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string'
  );
}

/** The worker side: wait for `start`, then serve until `stop`. */
export function runWorker(): void {
  let serving: Serving | null = null;
  let listeners: DnsListeners | null = null;
  let markStarted: (s: Serving) => void = () => undefined;
  /** Zone data that arrives while starting waits for this (the primary may publish meanwhile). */
  const started = new Promise<Serving>((resolve) => (markStarted = resolve));
  const reply = (message: FromWorker) => process.send?.(message);
  // A terminal's Ctrl-C reaches the whole process group: the primary decides when workers stop.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('message', (message: unknown) => {
    if (!isToWorker(message)) return;
    switch (message.type) {
      case 'start':
        createServing(message.zone)
          .then(async (s) => {
            serving = s;
            markStarted(s);
            listeners = await listenDns(message.listen, s.responder, {
              tcpIdleTimeoutMs: message.tcpIdleTimeoutMs,
            });
            reply({ type: 'listening', addresses: [...listeners.addresses] });
          })
          .catch((error: unknown) => {
            reply({
              type: 'failed',
              error: error instanceof Error ? error.message : String(error),
              code: error instanceof OwncdnError ? error.code : 'OWNCDN_INTERNAL',
            });
            process.disconnect();
          });
        break;
      case 'zone': {
        const serial = message.zone.serial;
        started
          .then((s) => s.apply(message.zone))
          .then(() => reply({ type: 'applied', serial }))
          .catch((error: unknown) =>
            reply({
              type: 'apply-failed',
              serial,
              error: error instanceof Error ? error.message : String(error),
            }),
          );
        break;
      }
      case 'metrics':
        if (serving)
          reply({ type: 'metrics', id: message.id, data: serving.responder.metrics.toData() });
        break;
      case 'stop':
        void (listeners?.close() ?? Promise.resolve()).finally(() => process.disconnect());
        break;
    }
  });
  // Messages sent before this listener existed would be lost: say when it does.
  reply({ type: 'ready' });
}
