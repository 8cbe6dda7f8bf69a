import { createWriteStream } from 'node:fs';
import type { OriginConfig } from '@owncdn/core';
import type { Handler } from './handler.js';

/** The access log, when `origin.accessLog` is not `off`: one line per response. */
export interface AccessLog {
  /** Wraps a handler so each finished response is logged. */
  readonly wrap: (handler: Handler) => Handler;
  close(): Promise<void>;
}

/**
 * Opens the access log (stdout or an append-only file). Combined Log Format
 * or JSON lines. Off (null) by default: per-request logging costs throughput.
 */
export function createAccessLog(origin: OriginConfig, node: string | null): AccessLog | null {
  if (origin.accessLog === 'off') return null;
  // The access log is the one output a person asked for on stdout by name (origin.accessLog: stdout).
  const out =
    origin.accessLog === 'stdout'
      ? process.stdout
      : createWriteStream(origin.accessLog, { flags: 'a' });
  const json = origin.accessLogFormat === 'json';
  return {
    wrap: (handler) => (req, res) => {
      const started = Date.now();
      res.once('finish', () => {
        const h = req.headers;
        const status =
          'statusCode' in res && typeof res.statusCode === 'number' ? res.statusCode : 0;
        const length =
          'getHeader' in res && typeof res.getHeader === 'function'
            ? Number(res.getHeader('content-length') ?? 0)
            : 0;
        const remote =
          'socket' in req &&
          req.socket &&
          typeof req.socket === 'object' &&
          'remoteAddress' in req.socket
            ? String(req.socket.remoteAddress)
            : '-';
        if (json) {
          out.write(
            `${JSON.stringify({ time: new Date(started).toISOString(), node, remote, method: req.method, url: req.url, status, bytes: length, referer: h.referer ?? null, ua: h['user-agent'] ?? null, ms: Date.now() - started })}\n`,
          );
        } else {
          out.write(
            `${remote} - - [${clfDate(new Date(started))}] "${req.method ?? '-'} ${req.url ?? '-'} HTTP/${req.httpVersion}" ${status} ${length} "${h.referer ?? '-'}" "${h['user-agent'] ?? '-'}"\n`,
          );
        }
      });
      handler(req, res);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (out === process.stdout) resolve();
        else out.end(() => resolve());
      }),
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `10/Oct/2000:13:55:36 +0000`, the Common Log Format date (always UTC). */
function clfDate(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? ''}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}
