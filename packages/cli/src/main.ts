import { Command, CommanderError, Option } from 'commander';
import { registerCertd } from './commands/certd.js';
import { registerCheck } from './commands/check.js';
import { registerDemo } from './commands/demo.js';
import { registerGeodns } from './commands/geodns.js';
import { registerOrigin } from './commands/origin.js';
import { registerSync } from './commands/sync.js';
import { createContext, VERSION } from './context.js';
import type { CommandContext, GlobalOptions } from './context.js';
import { EXIT, reportError } from './exit.js';

/** Signals this close to the first are copies of it (see main), not a second Ctrl-C. */
const SAME_SIGNAL_MS = 500;

/** Builds the `owncdn` program; `context()` is valid inside an action. */
export function buildProgram(signal: AbortSignal): Command {
  const program = new Command('owncdn');
  let ctx: CommandContext | undefined;
  const context = (): CommandContext =>
    (ctx ??= createContext(program.opts<GlobalOptions>(), signal));
  program
    .description('Run your own multi-region CDN for a static site: origin, geodns, certd and sync.')
    .version(VERSION, '-V, --version', 'print the version')
    .option('-c, --config <path>', 'the site configuration', './owncdn.yaml')
    .addOption(
      new Option('--log-level <level>', 'log detail')
        .choices(['error', 'warn', 'info', 'debug', 'silent'])
        .default('info'),
    )
    .addOption(
      new Option('--log-format <format>', 'log output: pretty on a terminal, JSON lines otherwise')
        .choices(['auto', 'pretty', 'json'])
        .default('auto'),
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerDemo(program, context);
  registerCheck(program, context);
  registerOrigin(program, context);
  registerGeodns(program, context);
  registerCertd(program, context);
  registerSync(program, context);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Runs the CLI and exits the process with the status of the command (the only process.exit in owncdn). */
export async function main(argv: readonly string[]): Promise<void> {
  const controller = new AbortController();
  // The first SIGINT/SIGTERM aborts the command's signal so it stops cleanly
  // (children stopped, nothing half-switched); a second one quits at once.
  // `process.on`, not `once`: execa's exit hook (signal-exit) re-raises a
  // signal nobody else listens to, which would kill us before the cleanup.
  let firstSignalMs = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (firstSignalMs === 0) {
      firstSignalMs = Date.now();
      return controller.abort();
    }
    // `timeout` and some supervisors signal the process and then its group:
    // a copy arriving at once is the same request, not an impatient second one.
    if (Date.now() - firstSignalMs < SAME_SIGNAL_MS) return;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.kill(process.pid, signal);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const program = buildProgram(controller.signal);
  let status: number = EXIT.ok;
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed help, the version, or the usage problem.
      status = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else {
      status = reportError(error, process.stderr);
    }
  }
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (process.exitCode !== undefined && process.exitCode !== 0 && status === EXIT.ok)
    status = Number(process.exitCode);
  process.exit(status);
}
