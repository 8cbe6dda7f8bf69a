/**
 * Entry of the load thread (a node:worker_threads Worker, run from dist/):
 * reads, hashes and compresses the files of a release for the serving thread
 * (loader.ts), with blocking calls, one file at a time.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { compressBrotli, compressGzip, exact } from './compress.js';
import { isLoadRequest } from './load-messages.js';
import type { LoadReply, LoadRequest } from './load-messages.js';

/** Read size when hashing a file that stays on disk. */
const HASH_CHUNK_BYTES = 1024 * 1024;

/** The first 22 characters of the SHA-256 in base64url: 132 bits, the ETag's value. */
function digest(hash: ReturnType<typeof createHash>): string {
  return hash.digest('base64url').slice(0, 22);
}

function hashFile(file: string): string {
  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
  const fd = openSync(file, 'r');
  try {
    for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk))
      hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return digest(hash);
}

/** The whole ArrayBuffer under an exact() buffer, to hand over without a copy. */
function ownBuffer(data: Buffer): ArrayBuffer {
  const buffer = data.buffer;
  if (!(buffer instanceof ArrayBuffer))
    throw new Error('load thread: shared memory is not expected');
  return buffer;
}

function load(request: LoadRequest): { reply: LoadReply; transfer: ArrayBuffer[] } {
  const { id } = request;
  if (request.hashOnly)
    return {
      reply: { id, ok: true, hash: hashFile(request.file), body: null, br: null, gzip: null },
      transfer: [],
    };
  const body = exact(readFileSync(request.file));
  const hash = digest(createHash('sha256').update(body));
  let br: Buffer | null = null;
  let gzip: Buffer | null = null;
  if (request.compress && body.length > 0) {
    br = request.brFile !== null ? exact(readFileSync(request.brFile)) : compressBrotli(body);
    gzip = request.gzFile !== null ? exact(readFileSync(request.gzFile)) : compressGzip(body);
    if (br.length >= body.length) br = null;
    if (gzip.length >= body.length) gzip = null;
  }
  const reply = {
    id,
    ok: true as const,
    hash,
    body: ownBuffer(body),
    br: br && ownBuffer(br),
    gzip: gzip && ownBuffer(gzip),
  };
  // Every buffer of the reply is handed over, not copied.
  const transfer = [reply.body, reply.br, reply.gzip].filter((b) => b !== null);
  return { reply, transfer };
}

const port = parentPort;
port?.on('message', (message: unknown) => {
  if (!isLoadRequest(message)) return;
  let answer: { reply: LoadReply; transfer: ArrayBuffer[] };
  try {
    answer = load(message);
  } catch (error) {
    // An unreadable file fails that file's load; the serving thread reports it.
    const code =
      typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
    answer = {
      reply: {
        id: message.id,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
        code,
      },
      transfer: [],
    };
  }
  port.postMessage(answer.reply, answer.transfer);
});
