import { createLogger } from '@owncdn/core';
import type { Logger, LogLevel } from '@owncdn/core';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';

// pino-pretty (CommonJS) is required only when logs are pretty-printed: a
// JSON-logging run (systemd, scripts, benchmarks) starts ~50 ms sooner.
const require = createRequire(import.meta.url);

/**
 * Logs go to stderr, so stdout stays for results (tables, JSON). On a
 * terminal they are pretty-printed; otherwise JSON lines for journald/jq.
 */
export function createCliLogger(options: { level: LogLevel; pretty: boolean }): Logger {
  if (!options.pretty) return createLogger({ level: options.level, destination: process.stderr });
  const pretty = require('pino-pretty') as typeof PinoPretty;
  const stream = pretty({
    destination: 2,
    colorize: true,
    translateTime: 'HH:MM:ss',
    ignore: 'pid,hostname',
    sync: true,
  });
  return createLogger({ level: options.level, destination: stream });
}
