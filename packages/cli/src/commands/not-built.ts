import { OwncdnError } from '@owncdn/core';

/** For subcommands whose package has not landed yet: say so and fail. */
export function notBuilt(command: string, issue: number): never {
  throw new OwncdnError(
    'OWNCDN_NOT_IMPLEMENTED',
    `\`owncdn ${command}\` is not built yet (issue #${issue}); nothing was started`,
  );
}
