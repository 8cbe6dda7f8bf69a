import { ConfigError, isOwncdnError } from '@owncdn/core';
import type { ErrorCode } from '@owncdn/core';

/** Exit statuses: 0 success, 1 failure the user can fix, 2 usage error, 70 a bug (EX_SOFTWARE). */
export const EXIT = { ok: 0, failure: 1, usage: 2, internal: 70 } as const;

const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['OWNCDN_USAGE', 'OWNCDN_NODE_UNKNOWN']);

/**
 * The one place errors become exit statuses and messages. Expected errors
 * print their message alone; anything else is a bug and prints its stack.
 */
export function reportError(error: unknown, stderr: NodeJS.WritableStream): number {
  if (error instanceof ConfigError) {
    const count = error.issues.length;
    stderr.write(
      `${error.message}\n${count} problem${count === 1 ? '' : 's'} found; nothing was started.\n`,
    );
    return EXIT.failure;
  }
  if (isOwncdnError(error)) {
    stderr.write(`owncdn: ${error.message}\n`);
    return USAGE_CODES.has(error.code) ? EXIT.usage : EXIT.failure;
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  stderr.write(
    `owncdn: internal error (this is a bug in owncdn; please report it with the text below)\n${stack}\n`,
  );
  return EXIT.internal;
}
