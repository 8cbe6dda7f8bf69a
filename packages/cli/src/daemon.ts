import type { Logger } from '@owncdn/core';

/** What every daemon's start function returns (STYLE.md §1). */
export interface RunningService {
  readonly address?: unknown;
  reload(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Runs a daemon until SIGINT/SIGTERM (the context's signal), reloading on
 * SIGHUP. Resolves once it has closed.
 */
export async function runUntilStopped(
  service: RunningService,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  const onHup = () => {
    log.info('SIGHUP: reloading');
    service.reload().catch((error: unknown) => {
      // A failed reload keeps the previous state running; the service logs details.
      log.error({ err: error }, 'reload failed, still serving the previous configuration');
    });
  };
  process.on('SIGHUP', onHup);
  try {
    if (!signal.aborted)
      await new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    log.info('stopping');
    await service.close();
  } finally {
    process.off('SIGHUP', onHup);
  }
}
