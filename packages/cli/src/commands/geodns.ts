import { OwncdnError } from '@owncdn/core';
import type { RunningGeodns } from '@owncdn/geodns';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { runUntilStopped } from '../daemon.js';

interface GeodnsFlags {
  readonly listen: string[];
  readonly apiListen?: string;
  readonly workers?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `owncdn geodns`: run the authoritative GeoDNS server for site.domain until SIGINT/SIGTERM; SIGHUP reloads. */
export function registerGeodns(program: Command, context: () => CommandContext): void {
  program
    .command('geodns')
    .description(
      'Run the authoritative GeoDNS server for site.domain (SIGHUP or editing owncdn.yaml reloads it)',
    )
    .option(
      '--listen <host:port>',
      'DNS address for UDP and TCP, repeatable (overrides dns.listen; port 0 picks one)',
      collect,
      [],
    )
    .option('--api-listen <host:port>', 'API address (overrides dns.api.listen; "off" for no API)')
    .option(
      '--workers <n>',
      'processes answering queries (overrides dns.workers; 0 = one per core)',
    )
    .action(async (flags: GeodnsFlags) => {
      const ctx = context();
      let workers: number | undefined;
      if (flags.workers !== undefined) {
        workers = Number(flags.workers);
        if (!Number.isInteger(workers) || workers < 0 || workers > 256) {
          throw new OwncdnError(
            'OWNCDN_USAGE',
            `--workers ${flags.workers} is not a number of processes (expected 0–256; 0 = one per core)`,
          );
        }
      }
      const apiListen =
        flags.apiListen === undefined
          ? undefined
          : flags.apiListen === 'off'
            ? null
            : flags.apiListen;
      // SIGHUP's default action ends the process: until runUntilStopped takes it over, ignore it
      // (the file being loaded is already the newest).
      const early = () => ctx.log.info('SIGHUP while starting: nothing to reload yet');
      process.on('SIGHUP', early);
      let service: RunningGeodns;
      try {
        const config = await ctx.loadConfig();
        const { startGeodns } = await import('@owncdn/geodns');
        service = await startGeodns(config, {
          log: ctx.log,
          signal: ctx.signal,
          listen: flags.listen.length > 0 ? flags.listen : undefined,
          apiListen,
          workers,
        });
      } finally {
        process.off('SIGHUP', early);
      }
      await runUntilStopped(service, ctx.signal, ctx.log);
    });
}
