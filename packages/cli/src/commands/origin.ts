import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { notBuilt } from './not-built.js';

/** `owncdn origin`: Serve the site on this edge node (or any directory with --dir). */
export function registerOrigin(program: Command, context: () => CommandContext): void {
  program
    .command('origin')
    .description('Serve the site on this edge node (or any directory with --dir)')
    .allowUnknownOption(true)
    .action(() => {
      context();
      notBuilt('origin', 3);
    });
}
