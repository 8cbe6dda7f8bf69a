import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { notBuilt } from './not-built.js';

/** `owncdn sync`: Publish, inspect and roll back releases on every node. */
export function registerSync(program: Command, context: () => CommandContext): void {
  program
    .command('sync')
    .description('Publish, inspect and roll back releases on every node')
    .allowUnknownOption(true)
    .action(() => {
      context();
      notBuilt('sync', 6);
    });
}
