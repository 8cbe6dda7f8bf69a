import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { notBuilt } from './not-built.js';

/** `owncdn certd`: Obtain, renew and deploy the site certificates over ACME. */
export function registerCertd(program: Command, context: () => CommandContext): void {
  program
    .command('certd')
    .description('Obtain, renew and deploy the site certificates over ACME')
    .allowUnknownOption(true)
    .action(() => {
      context();
      notBuilt('certd', 5);
    });
}
