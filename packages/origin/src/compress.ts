import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/**
 * Brotli quality 5: ~43 MiB/s per core against ~0.4 MiB/s at 11 on a 37 KiB
 * HTML page, for a result within 8 % of it (measured for issue 3). A release
 * load stays quick; `.br` siblings made at publish time may use quality 11.
 */
const BROTLI_QUALITY = 5;
/** gzip -9 still runs at ~50 MiB/s; the bytes saved are sent on every request. */
const GZIP_LEVEL = 9;

/**
 * A buffer that owns its whole memory: zlib hands back its output as a slice
 * of its 16 KiB+ working buffer, and Node's file reads below 4 KiB as a slice
 * of a shared pool. A 300-byte variant would pin the whole chunk for the life
 * of the release (measured: 40 MB held for a 16 MB site), and only a whole
 * ArrayBuffer can be handed from the load thread to the serving one.
 */
export function exact(data: Buffer): Buffer {
  if (data.byteOffset === 0 && data.buffer.byteLength === data.length) return data;
  const copy = Buffer.allocUnsafeSlow(data.length);
  data.copy(copy);
  return copy;
}

/** RFC 7932 window bits for a file: no bigger than the file (smaller encoder state), within brotli's 10–24. */
function windowBits(size: number): number {
  return Math.min(24, Math.max(10, Math.ceil(Math.log2(size + 1))));
}

/** Brotli at BROTLI_QUALITY, blocking: run in the load thread only (see load-thread.ts). */
export function compressBrotli(data: Buffer): Buffer {
  return exact(
    brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
        [constants.BROTLI_PARAM_LGWIN]: windowBits(data.length),
      },
    }),
  );
}

/** gzip at GZIP_LEVEL, blocking: run in the load thread only. */
export function compressGzip(data: Buffer): Buffer {
  return exact(gzipSync(data, { level: GZIP_LEVEL }));
}
