import { createLogger } from '@owncdn/core';
import type { Logger, LogLevel } from '@owncdn/core';
import pretty from 'pino-pretty';

/**
 * Logs go to stderr, so stdout stays for results (tables, JSON). On a
 * terminal they are pretty-printed; otherwise JSON lines for journald/jq.
 */
export function createCliLogger(options: { level: LogLevel; pretty: boolean }): Logger {
  if (!options.pretty) return createLogger({ level: options.level, destination: process.stderr });
  const stream = pretty({
    destination: 2,
    colorize: true,
    translateTime: 'HH:MM:ss',
    ignore: 'pid,hostname',
    sync: true,
  });
  return createLogger({ level: options.level, destination: stream });
}
