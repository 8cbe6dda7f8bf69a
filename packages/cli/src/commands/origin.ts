import { Option } from 'commander';
import type { Command } from 'commander';
import { OwncdnError } from '@owncdn/core';
import type { OriginOptions } from '@owncdn/origin';
import { VERSION } from '../context.js';
import type { CommandContext } from '../context.js';
import { runUntilStopped } from '../daemon.js';

interface OriginFlags {
  readonly node?: string;
  readonly dir?: string;
  readonly listen?: string;
  readonly workers?: string;
  readonly http?: string;
  readonly https?: string;
  readonly admin?: string;
  readonly accessLog?: string;
}

function count(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text))
    throw new OwncdnError('OWNCDN_USAGE', `${flag}: ${JSON.stringify(text)} is not a whole number`);
  return Number(text);
}

/** `owncdn origin`: serve the site on this edge node (or any directory with --dir). */
export function registerOrigin(program: Command, context: () => CommandContext): void {
  program
    .command('origin')
    .description('Serve the site on this edge node (or any directory with --dir)')
    .option(
      '--node <name>',
      "serve this node's <root>/current on its addresses (needs owncdn.yaml)",
    )
    .option('--dir <path>', 'serve this directory instead (owncdn.yaml optional)')
    .option('--listen <host:port>', 'with --dir: where to listen', '127.0.0.1:8080')
    .option('--workers <n>', 'worker processes (default: origin.workers; 0 = one per core)')
    .option('--http <port>', 'plain HTTP port (overrides the config)')
    .option('--https <port>', 'HTTPS port (overrides the config)')
    .option('--admin <host:port>', 'serve /healthz and /metrics on a separate listener')
    .addOption(
      new Option(
        '--access-log <where>',
        'access log: off, stdout, or a file (overrides origin.accessLog)',
      ),
    )
    .action(async (flags: OriginFlags, command: Command) => {
      const ctx = context();
      const configGiven = command.parent?.getOptionValueSource('config') === 'cli';
      // --dir works without owncdn.yaml; node mode (and an explicit -c) needs it.
      const config = flags.dir === undefined || configGiven ? await ctx.loadConfig() : undefined;
      const options: OriginOptions = {
        config,
        node: flags.node,
        dir: flags.dir,
        listen: flags.dir === undefined ? undefined : flags.listen,
        workers: count(flags.workers, '--workers'),
        httpPort: count(flags.http, '--http'),
        httpsPort: count(flags.https, '--https'),
        admin: flags.admin,
        accessLog: flags.accessLog,
        version: VERSION,
      };
      const { startOrigin } = await import('@owncdn/origin');
      const origin = await startOrigin(options, {
        log: ctx.log,
        signal: ctx.signal,
        loadConfig: config ? () => ctx.loadConfig() : undefined,
      });
      await runUntilStopped(origin, ctx.signal, ctx.log);
    });
}
