import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { createRequire } from 'node:module';
import { ERROR_CODES, OwncdnError } from '@owncdn/core';
import type { ErrorCode, Logger } from '@owncdn/core';
import { addCounters, createCounters } from './counters.js';
import type { Counters } from './counters.js';
import { isFromWorker } from './ipc.js';
import type { FromWorker, ToWorker } from './ipc.js';
import type { OriginAddress } from './serve.js';
import type { Settings } from './settings.js';

/**
 * The compiled worker entry, dist/worker.js, found by package name (when the
 * first worker is forked, so importing this module needs no build): from
 * src/ (vitest), from dist/ and from the bundled `owncdn` program alike (a
 * forked worker is plain node and cannot run TypeScript; it is not bundled).
 */
function workerEntry(): string {
  return createRequire(import.meta.url).resolve('@owncdn/origin/worker');
}

/** Extra time after drainTimeout before a worker that did not exit is killed. */
const KILL_GRACE_MS = 2_000;
/** How long /metrics waits for the other workers' counters before answering with what it has. */
const GATHER_TIMEOUT_MS = 1_000;

/**
 * V8 flags of a worker (not the primary's; NODE_OPTIONS still applies).
 * `--max-semi-space-size=4` (MiB; V8's default on 64-bit grows to 16): under
 * sustained traffic V8 grows the young generation to its maximum and keeps
 * it. Measured for issue 3 on the 16 MiB bench site after 16-20 one-second
 * turns at 50 connections (27-33 k req/s), resident memory per worker: 119
 * MiB with V8's default, 107-109 with 8, 97-98 with 4, 96-98 with 2. At 2
 * the scavenges come every ~250 requests; 4 costs 2-4 % less CPU per 4 KiB
 * response than 2 (side by side, pinned to one core, fresh processes).
 */
const WORKER_EXEC_ARGV = ['--max-semi-space-size=4'];

/**
 * glibc gives each thread that allocates its own malloc arena and seldom
 * returns their memory: the release load thread (loader.ts) and Node's own
 * threads would each leave one behind in every worker. Two arenas are enough
 * for threads that only work during loads. Other C libraries ignore it; an
 * operator's own value wins.
 */
const WORKER_MALLOC_ARENA_MAX = '2';

export interface ClusterOrigin {
  readonly address: OriginAddress;
  readonly release: string | null;
  reload(settings?: Settings): Promise<void>;
  close(): Promise<void>;
}

function send(worker: Worker, message: ToWorker): void {
  if (!worker.isConnected()) return;
  worker.send(message, undefined, () => {
    // A worker whose channel closed meanwhile (EPIPE) is ending: its exit handler replaces or forgets it.
  });
}

function toErrorCode(code: string): ErrorCode {
  return ERROR_CODES.find((c) => c === code) ?? 'OWNCDN_INTERNAL';
}

/**
 * Forks `settings.workers` processes that share the listening sockets
 * (node:cluster). Resolves once every worker listens; rejects with the
 * first worker's error otherwise. A worker that dies is replaced.
 */
export async function startCluster(initial: Settings, log: Logger): Promise<ClusterOrigin> {
  let settings = initial;
  let closing = false;
  const workers = new Set<Worker>();
  const waiters = new Map<string, (message: FromWorker) => void>();
  let nextId = 1;

  const ask = <T>(
    worker: Worker,
    message: ToWorker & { id: number },
    timeoutMs: number,
    fallback: T,
    pick: (m: FromWorker) => T,
  ): Promise<T> =>
    new Promise((resolve) => {
      const key = `${worker.id}:${message.id}`;
      const timer = setTimeout(() => {
        waiters.delete(key);
        resolve(fallback);
      }, timeoutMs);
      waiters.set(key, (reply) => {
        clearTimeout(timer);
        waiters.delete(key);
        resolve(pick(reply));
      });
      send(worker, message);
    });

  const sumCounters = async (): Promise<Counters> => {
    const id = nextId++;
    const all = await Promise.all(
      [...workers].map((w) =>
        ask(w, { type: 'counters', id }, GATHER_TIMEOUT_MS, createCounters(), (m) =>
          m.type === 'counters' ? m.counters : createCounters(),
        ),
      ),
    );
    const sum = createCounters();
    for (const c of all) addCounters(sum, c);
    return sum;
  };

  const fork = (): {
    worker: Worker;
    ready: Promise<{ address: OriginAddress; release: string | null }>;
  } => {
    cluster.setupPrimary({
      exec: workerEntry(),
      execArgv: WORKER_EXEC_ARGV,
      args: [],
      silent: false,
    });
    const worker = cluster.fork({
      OWNCDN_ORIGIN_SETTINGS: JSON.stringify(settings),
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? WORKER_MALLOC_ARENA_MAX,
    });
    workers.add(worker);
    const ready = new Promise<{ address: OriginAddress; release: string | null }>(
      (resolve, reject) => {
        worker.on('message', (message: unknown) => {
          if (!isFromWorker(message)) return;
          switch (message.type) {
            case 'log':
              log[message.level]({ ...message.obj, worker: worker.id }, message.msg);
              break;
            case 'listening':
              resolve({ address: message.address, release: message.release });
              break;
            case 'failed':
              reject(new OwncdnError(toErrorCode(message.code), message.message));
              break;
            case 'gather':
              void sumCounters().then((counters) =>
                send(worker, { type: 'gathered', id: message.id, counters }),
              );
              break;
            default:
              waiters.get(`${worker.id}:${message.id}`)?.(message);
          }
        });
        worker.once('exit', (code, signal) => {
          workers.delete(worker);
          reject(
            new OwncdnError(
              'OWNCDN_INTERNAL',
              `origin worker exited before listening (code ${String(code)}, signal ${String(signal)})`,
            ),
          );
          if (closing) return;
          log.error({ worker: worker.id, code, signal }, 'origin worker died: starting another');
          const replacement = fork();
          replacement.ready.then(
            () => log.info({ worker: replacement.worker.id }, 'origin worker replaced'),
            (error: unknown) => log.error({ err: error }, 'replacement worker failed to start'),
          );
        });
      },
    );
    return { worker, ready };
  };

  // One watcher for every worker, started before they load so that no change after their
  // load is missed; each settled burst goes to each worker (see ServingOrigin.applyChanges).
  const { watchServed } = await import('./watch.js');
  const watcher = await watchServed(initial, log, (paths) => {
    const message: ToWorker = { type: 'changed', paths: [...paths] };
    for (const worker of workers) send(worker, message);
  });

  const stopAll = async (): Promise<void> => {
    closing = true;
    await Promise.all(
      [...workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const timer = setTimeout(
              () => worker.process.kill('SIGKILL'),
              settings.origin.drainTimeoutMs + KILL_GRACE_MS,
            );
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (worker.isConnected()) send(worker, { type: 'close' });
            else worker.process.kill('SIGTERM');
          }),
      ),
    );
    await watcher.close();
  };

  const started = Array.from({ length: settings.workers }, fork);
  let first: { address: OriginAddress; release: string | null };
  try {
    const all = await Promise.all(started.map((s) => s.ready));
    first = all[0] ?? { address: { http: [], https: [], admin: null }, release: null };
  } catch (error) {
    await stopAll();
    throw error;
  }
  let closed: Promise<void> | null = null;
  return {
    address: first.address,
    release: first.release,
    reload: async (next) => {
      if (next) settings = next;
      const id = nextId++;
      await Promise.all(
        [...workers].map((w) =>
          ask(
            w,
            { type: 'reload', id, settings: next ?? null },
            60_000,
            undefined,
            () => undefined,
          ),
        ),
      );
    },
    close: () => (closed ??= stopAll()),
  };
}
