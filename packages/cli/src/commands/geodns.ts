import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { notBuilt } from './not-built.js';

/** `owncdn geodns`: Run the authoritative GeoDNS server for site.domain. */
export function registerGeodns(program: Command, context: () => CommandContext): void {
  program
    .command('geodns')
    .description('Run the authoritative GeoDNS server for site.domain')
    .allowUnknownOption(true)
    .action(() => {
      context();
      notBuilt('geodns', 4);
    });
}
