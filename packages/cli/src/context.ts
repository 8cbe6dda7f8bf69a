import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@owncdn/core';
import type { Config, Logger, LogLevel } from '@owncdn/core';
import { createCliLogger } from './logger.js';

/** The version in packages/cli/package.json, found upwards from here (dist/, or dist/bundle/ once bundled). */
function readVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === '@owncdn/cli' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here: look further up
    }
    if (dirname(dir) === dir) return '0.0.0';
  }
}

/** The version printed by `--version` and reported by /healthz. */
export const VERSION: string = readVersion();

/** Options every subcommand shares. */
export interface GlobalOptions {
  readonly config: string;
  readonly logLevel: LogLevel;
  readonly logFormat: 'pretty' | 'json' | 'auto';
}

/** What a command needs from the CLI: its logger and the config, loaded on demand. */
export interface CommandContext {
  readonly log: Logger;
  readonly configPath: string;
  loadConfig(): Promise<Config>;
  /** Aborted on SIGINT/SIGTERM; daemons stop when it fires. */
  readonly signal: AbortSignal;
  /** Output for results meant for people or scripts (tables, JSON). */
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly isTTY: boolean;
}

export function createContext(options: GlobalOptions, signal: AbortSignal): CommandContext {
  const isTTY = Boolean(process.stdout.isTTY);
  const pretty =
    options.logFormat === 'pretty' ||
    (options.logFormat === 'auto' && Boolean(process.stderr.isTTY));
  const log = createCliLogger({ level: options.logLevel, pretty });
  return {
    log,
    configPath: options.config,
    loadConfig: () => loadConfig(options.config),
    signal,
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY,
  };
}
