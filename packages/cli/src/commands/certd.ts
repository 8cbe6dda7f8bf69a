import type { Command } from 'commander';
import { OwncdnError } from '@owncdn/core';
import type { CommandContext } from '../context.js';
import { runUntilStopped } from '../daemon.js';

/** Loaded on use, so other commands do not pay for acme-client at start-up. */
const loadCertd = () => import('@owncdn/certd');

/** `owncdn certd [--once]` and `owncdn certd status`: obtain, renew and deploy the site certificates over ACME. */
export function registerCertd(program: Command, context: () => CommandContext): void {
  const certd = program
    .command('certd')
    .description('Obtain, renew and deploy the site certificates over ACME (runs until stopped)')
    .option(
      '--once',
      'do one pass (renew what is due, deploy what is missing) and exit: for cron or systemd timers',
    )
    .action(async (flags: { once?: boolean }) => {
      const ctx = context();
      const config = await ctx.loadConfig();
      if (flags.once) {
        const { runCertdOnce } = await loadCertd();
        const result = await runCertdOnce(config, { log: ctx.log, signal: ctx.signal });
        if (!result.ok) {
          const problems = result.certificates.flatMap((c) => [
            ...(c.error ? [`${c.name}: ${c.error}`] : []),
            ...(c.nodesBehind.length > 0
              ? [`${c.name}: not live on ${c.nodesBehind.join(', ')} yet`]
              : []),
          ]);
          const code = result.certificates.some((c) => c.error)
            ? 'OWNCDN_ACME_FAILED'
            : 'OWNCDN_CERT_DEPLOY_FAILED';
          throw new OwncdnError(code, `certd pass incomplete: ${problems.join('; ')}`);
        }
        return;
      }
      const { startCertd } = await loadCertd();
      const service = await startCertd(config, { log: ctx.log, signal: ctx.signal });
      await runUntilStopped(service, ctx.signal, ctx.log);
    });
  certd
    .command('status')
    .description(
      'Print each certificate, its expiry, next renewal and the nodes serving it; non-zero when one needs attention',
    )
    .action(async () => {
      const ctx = context();
      const { certdStatus, formatStatus } = await loadCertd();
      const status = await certdStatus(await ctx.loadConfig());
      ctx.stdout.write(formatStatus(status));
      // Non-zero without an error message: the table already says what is wrong.
      if (!status.ok) process.exitCode = 1;
    });
}
