import type { execa as Execa } from 'execa';

let loading: Promise<typeof Execa> | undefined;

/**
 * execa, loaded on first use: it is ~0.15 s and ~15 MiB of modules that a
 * process which never runs ssh or rsync (an origin worker, `owncdn --version`)
 * should not pay for.
 */
export function loadExeca(): Promise<typeof Execa> {
  loading ??= import('execa').then((m) => m.execa);
  return loading;
}
