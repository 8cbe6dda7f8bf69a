import { pino } from 'pino';
import type { DestinationStream } from 'pino';

/**
 * The logger every package takes: a subset of pino's interface, so a pino
 * logger fits and tests can pass a recording one. Packages never write to
 * stdout or stderr themselves.
 */
export interface Logger {
  error(obj: object, msg?: string): void;
  error(msg: string): void;
  warn(obj: object, msg?: string): void;
  warn(msg: string): void;
  info(obj: object, msg?: string): void;
  info(msg: string): void;
  debug(obj: object, msg?: string): void;
  debug(msg: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/**
 * Paths pino redacts wherever they appear in a log record: keys, tokens and
 * credentials must never reach a log file.
 */
export const REDACT_PATHS: readonly string[] = [
  'token',
  '*.token',
  'apiToken',
  '*.apiToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'accountKey',
  '*.accountKey',
  'privateKey',
  '*.privateKey',
  'key',
  '*.key',
  'hmac',
  '*.hmac',
  'eab.hmac',
  'password',
  '*.password',
];

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'silent';

export interface CreateLoggerOptions {
  readonly level?: LogLevel;
  /** A pino destination stream (default: stdout). */
  readonly destination?: DestinationStream;
  readonly name?: string;
}

/** Creates the JSON-lines logger (pino) with secrets redacted. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const opts = {
    level: options.level ?? 'info',
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    base: options.name ? { name: options.name } : null,
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that drops everything (for library callers that want silence). */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
