import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { OwncdnError } from '@owncdn/core/runtime';
import { isCompressible } from './encoding.js';
import { contentType } from './entry.js';
import type { CachedFile, Found, SiblingLookup } from './entry.js';
import { isLoadReply } from './load-messages.js';
import type { LoadReply, LoadRequest } from './load-messages.js';

/**
 * Files are read, hashed and compressed in a worker thread, not in the
 * serving thread: its event loop stays free while a release loads, and its
 * JIT only ever sees the request path. zlib's asynchronous API runs the
 * compressors through stream objects whose shared code node:http's sockets
 * use too; after a release load through it, a 4 KiB response cost 4-5 %
 * more CPU for the life of the process (measured for issue 3, side by side
 * on one core; the same with plain streams used at start-up).
 */

/** The thread ends this long after its last answer; the next load starts a new one (~20 ms). */
const IDLE_MS = 500;

/** dist/load-thread.js, found by package name as cluster.ts finds the worker (src, dist and the bundle alike). */
function threadEntry(): string {
  return createRequire(import.meta.url).resolve('@owncdn/origin/load-thread');
}

interface Waiter {
  readonly worker: Worker;
  resolve(reply: LoadReply): void;
  reject(error: Error): void;
}

let thread: Worker | null = null;
const waiting = new Map<number, Waiter>();
let nextId = 1;
let idleTimer: NodeJS.Timeout | undefined;

/** Rejects what `worker` still owes (a thread ended by the idle timer owes nothing). */
function failAll(worker: Worker, error: Error): void {
  for (const [id, waiter] of waiting) {
    if (waiter.worker !== worker) continue;
    waiting.delete(id);
    waiter.reject(error);
  }
}

function startThread(): Worker {
  const worker = new Worker(threadEntry());
  worker.on('message', (message: unknown) => {
    if (!isLoadReply(message)) return;
    const waiter = waiting.get(message.id);
    waiting.delete(message.id);
    waiter?.resolve(message);
    if (waiting.size > 0) return;
    // Idle: let the process exit without it, and end it unless more work comes.
    worker.unref();
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (thread !== worker || waiting.size > 0) return;
      thread = null;
      // terminate() settles once the thread is gone; nothing waits for it.
      void worker.terminate();
    }, IDLE_MS);
    idleTimer.unref();
  });
  worker.on('error', (error) => {
    if (thread === worker) thread = null;
    failAll(
      worker,
      new OwncdnError('OWNCDN_INTERNAL', 'release load thread failed', { cause: error }),
    );
  });
  worker.on('exit', (code) => {
    if (thread === worker) thread = null;
    failAll(
      worker,
      new OwncdnError('OWNCDN_INTERNAL', `release load thread exited (code ${code})`),
    );
  });
  return worker;
}

function ask(request: Omit<LoadRequest, 'id'>): Promise<LoadReply & { ok: true }> {
  clearTimeout(idleTimer);
  thread ??= startThread();
  // Work pending: the process stays up for it (startup has no listener yet).
  thread.ref();
  const id = nextId++;
  const worker = thread;
  return new Promise((resolve, reject) => {
    waiting.set(id, {
      worker,
      resolve: (reply) => {
        if (reply.ok) return resolve(reply);
        // The file system's code (ENOENT, EACCES…) stays on the error, as a direct read would have it.
        const error = new Error(`cannot read ${request.file}: ${reply.message}`);
        reject(reply.code === '' ? error : Object.assign(error, { code: reply.code }));
      },
      reject,
    });
    worker.postMessage({ ...request, id });
  });
}

/**
 * Reads one file of a release in the load thread: its bytes, hash and
 * compressed variants (publish-time `.br`/`.gz` siblings win), or only its
 * hash when it stays on disk (above maxMemoryFileBytes). Rejects when the
 * file cannot be read.
 */
export async function loadFile(
  item: Found,
  siblings: SiblingLookup,
  maxMemoryFileBytes: number,
): Promise<CachedFile> {
  const onDisk = item.stats.size > maxMemoryFileBytes;
  const compress = !onDisk && isCompressible(contentType(item.urlPath));
  const sibling = (suffix: string): string | null => {
    const found = compress ? siblings(`${item.urlPath}${suffix}`) : undefined;
    return found && found.size <= maxMemoryFileBytes ? found.file : null;
  };
  const reply = await ask({
    file: item.file,
    hashOnly: onDisk,
    compress,
    brFile: sibling('.br'),
    gzFile: sibling('.gz'),
  });
  const buffer = (bytes: ArrayBuffer | null): Buffer | null => bytes && Buffer.from(bytes);
  return {
    body: buffer(reply.body),
    hash: reply.hash,
    br: buffer(reply.br),
    gzip: buffer(reply.gzip),
  };
}
