import type { Command } from 'commander';
import type { CommandContext } from '../context.js';

/** `owncdn demo`: the whole CDN on this machine, three regions on loopback. */
export function registerDemo(program: Command, context: () => CommandContext): void {
  program
    .command('demo')
    .description(
      'Run the whole CDN on this machine: three regions on loopback, GeoDNS, a publish and (with Pebble) HTTPS',
    )
    .option(
      '--dir <dir>',
      'the demo workspace (created, or reused with your edits)',
      './owncdn-demo',
    )
    .option('--no-tour', 'skip the guided tour; print the addresses only')
    .option('--json', 'print one JSON object when ready (for scripts), no tour, no live line')
    .addHelpText('after', '\nCtrl-C stops every process the demo started.')
    .action(async (options: { dir: string; tour: boolean; json?: boolean }) => {
      const ctx = context();
      // Loaded on use: the demo pulls in undici and log-update, which other commands need not pay for.
      const { runDemo } = await import('../demo/run-demo.js');
      await runDemo({
        dir: options.dir,
        tour: options.tour,
        json: options.json ?? false,
        stdout: ctx.stdout,
        isTTY: ctx.isTTY,
        signal: ctx.signal,
      });
    });
}
