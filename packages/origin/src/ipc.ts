import type { Logger } from '@owncdn/core';
import type { Counters } from './counters.js';
import type { OriginAddress } from './serve.js';
import type { Settings } from './settings.js';

/** Messages from the cluster primary to a worker. */
export type ToWorker =
  | { readonly type: 'reload'; readonly id: number; readonly settings: Settings | null }
  | { readonly type: 'counters'; readonly id: number }
  | { readonly type: 'gathered'; readonly id: number; readonly counters: Counters }
  /** A settled burst of file events seen by the primary's watcher (absolute paths). */
  | { readonly type: 'changed'; readonly paths: readonly string[] }
  | { readonly type: 'close' };

/** Messages from a worker to the primary. */
export type FromWorker =
  | {
      readonly type: 'log';
      readonly level: LogLevelName;
      readonly obj: Record<string, unknown>;
      readonly msg: string | undefined;
    }
  | { readonly type: 'listening'; readonly address: OriginAddress; readonly release: string | null }
  | { readonly type: 'failed'; readonly code: string; readonly message: string }
  | { readonly type: 'reloaded'; readonly id: number }
  | { readonly type: 'counters'; readonly id: number; readonly counters: Counters }
  | { readonly type: 'gather'; readonly id: number };

export type LogLevelName = 'error' | 'warn' | 'info' | 'debug';

/** Errors do not survive JSON: keep what a person reading the log needs. */
function serialisable(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    out[key] =
      value instanceof Error
        ? {
            type: value.name,
            message: value.message,
            stack: value.stack,
            code: 'code' in value ? value.code : undefined,
          }
        : value;
  }
  return out;
}

/**
 * A Logger that hands records to the primary over IPC, so that the
 * workers of one origin log through the one logger startOrigin was given.
 */
export function createIpcLogger(
  send: (message: FromWorker) => void,
  bindings: Record<string, unknown> = {},
): Logger {
  const emit =
    (level: LogLevelName) =>
    (objOrMsg: object | string, msg?: string): void => {
      const obj =
        typeof objOrMsg === 'string'
          ? {}
          : serialisable({ ...(objOrMsg as Record<string, unknown>) });
      send({
        type: 'log',
        level,
        obj: { ...bindings, ...obj },
        msg: typeof objOrMsg === 'string' ? objOrMsg : msg,
      });
    };
  return {
    error: emit('error'),
    warn: emit('warn'),
    info: emit('info'),
    debug: emit('debug'),
    child: (more) => createIpcLogger(send, { ...bindings, ...more }),
  };
}

/** Narrows an IPC message (unknown on arrival) to a primary→worker message. */
export function isToWorker(message: unknown): message is ToWorker {
  return (
    typeof message === 'object' &&
    message !== null &&
    'type' in message &&
    typeof message.type === 'string'
  );
}

/** Narrows an IPC message (unknown on arrival) to a worker→primary message. */
export function isFromWorker(message: unknown): message is FromWorker {
  return (
    typeof message === 'object' &&
    message !== null &&
    'type' in message &&
    typeof message.type === 'string'
  );
}
