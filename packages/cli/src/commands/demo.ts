import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { notBuilt } from './not-built.js';

/** `owncdn demo`: Run the whole CDN on this machine: three regions on loopback. */
export function registerDemo(program: Command, context: () => CommandContext): void {
  program
    .command('demo')
    .description('Run the whole CDN on this machine: three regions on loopback')
    .allowUnknownOption(true)
    .action(() => {
      context();
      notBuilt('demo', 7);
    });
}
