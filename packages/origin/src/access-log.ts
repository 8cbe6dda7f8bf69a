import { createWriteStream } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import type { OriginConfig } from '@owncdn/core';
import type { HeaderList } from './entry.js';
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
      // Headers go out through writeHead(status, object), which getHeader() does not see:
      // note the length on the way (only when an access log is on).
      let length = 0;
      const writeHead = res.writeHead.bind(res);
      res.writeHead = (status, headers) => {
        length = contentLength(headers);
        return writeHead(status, headers);
      };
      res.once('finish', () => {
        const h = req.headers;
        const status = res.statusCode;
        const remote = req.socket.remoteAddress ?? '-';
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

/** Content-Length of headers given to writeHead (an object or a flat name/value list), 0 when absent. */
function contentLength(headers: OutgoingHttpHeaders | HeaderList | undefined): number {
  if (headers === undefined) return 0;
  if (!Array.isArray(headers)) return Number(headers['content-length'] ?? 0);
  for (let i = 0; i < headers.length - 1; i += 2)
    if (headers[i] === 'content-length') return Number(headers[i + 1]);
  return 0;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `10/Oct/2000:13:55:36 +0000`, the Common Log Format date (always UTC). */
function clfDate(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? ''}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}
