/** What the serving thread asks the load thread (load-thread.ts) for one file. */
export interface LoadRequest {
  readonly id: number;
  readonly file: string;
  /** Only hash it: above maxMemoryFileBytes a file stays on disk. */
  readonly hashOnly: boolean;
  /** Make compressed variants (a compressible type). */
  readonly compress: boolean;
  /** Variants made at publish time (`name.br`, `name.gz`), read instead of compressing, or null. */
  readonly brFile: string | null;
  readonly gzFile: string | null;
}

/** The answer: the bytes (each buffer handed over whole, not copied) or why not. */
export type LoadReply =
  | {
      readonly id: number;
      readonly ok: true;
      readonly hash: string;
      readonly body: ArrayBuffer | null;
      /** Only when smaller than the body: a variant that is not is never served. */
      readonly br: ArrayBuffer | null;
      readonly gzip: ArrayBuffer | null;
    }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly code: string };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;
const isPath = (value: unknown): value is string | null =>
  value === null || typeof value === 'string';
const isBytes = (value: unknown): value is ArrayBuffer | null =>
  value === null || value instanceof ArrayBuffer;

export function isLoadRequest(message: unknown): message is LoadRequest {
  return (
    isRecord(message) &&
    typeof message.id === 'number' &&
    typeof message.file === 'string' &&
    typeof message.hashOnly === 'boolean' &&
    typeof message.compress === 'boolean' &&
    isPath(message.brFile) &&
    isPath(message.gzFile)
  );
}

export function isLoadReply(message: unknown): message is LoadReply {
  if (!isRecord(message) || typeof message.id !== 'number') return false;
  if (message.ok === false)
    return typeof message.message === 'string' && typeof message.code === 'string';
  return (
    message.ok === true &&
    typeof message.hash === 'string' &&
    isBytes(message.body) &&
    isBytes(message.br) &&
    isBytes(message.gzip)
  );
}
