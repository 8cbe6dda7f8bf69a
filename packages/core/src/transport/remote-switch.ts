import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { checkLinkTarget, checkNodePath, splitNodePath } from './paths.js';
import { CHANGES_FLAG, itemizedName, startRsync } from './rsync.js';
import type { RsyncRun } from './rsync.js';
import type { PreparedSwitch } from './types.js';

/** What a prepared switch needs from the remote transport that makes it. */
export interface SwitchContext {
  readonly nodeName: string;
  readonly label: string;
  readonly log: Logger;
  /** `host:<path>` for rsync; connects first, so `rsh()` then names the ControlPath. */
  remoteArg(rel: string, slash: boolean): Promise<string>;
  /** The `-e` command rsync runs ssh with. */
  rsh(): string;
  /** A fresh local directory, removed by the transport's close(). */
  localScratch(): Promise<string>;
  /** Held while an rsync runs; behind rrsync one at a time. */
  acquire(): Promise<() => void>;
  /** Throws the one-line error for a failed rsync. */
  fail(operation: string, run: RsyncRun): never;
  /** Switches whose link is in place but whose rsync is still ending; close() waits for them. */
  readonly ending: Set<Promise<void>>;
}

/**
 * Connects an rsync that will replace the symlink `path` with one to `target`
 * and waits for its file list. commit() only sends the list, so several nodes
 * flip within a round trip of each other (NOTES.md: a new ssh channel at flip
 * time costs ~1.5 round trips). rsync ≥ 3.2.4 replaces an existing symlink by
 * creating a temporary one and renaming it over.
 */
export async function prepareRemoteSwitch(
  ctx: SwitchContext,
  path: string,
  target: string,
): Promise<PreparedSwitch> {
  const rel = checkNodePath(path, ctx.label);
  checkLinkTarget(rel, target, ctx.label);
  const { parent, name } = splitNodePath(rel);
  const dir = await ctx.localScratch();
  await symlink(target, join(dir, name));
  const dest = await ctx.remoteArg(parent, true);
  const args = ['-e', ctx.rsh(), '-l', CHANGES_FLAG, '--from0', '--files-from=-', '--mkpath'];
  args.push(`${dir}/`, dest);
  // rsync prints `cL… <name> -> <target>` once the node has renamed the new
  // link into place (generator.c itemizes after atomic_create). It exits
  // 20–40 ms later: it waits for its ssh child in 20 ms sleeps
  // (main.c, wait_process_with_flush), twice per switch on the path of a push.
  const itemized = `${name} -> ${target}`;
  let linked: () => void = () => undefined;
  const inPlace = new Promise<null>((resolve) => {
    linked = () => resolve(null);
  });
  // Held until rsync exits: behind rrsync the waiting rsync holds its lock.
  const release = await ctx.acquire();
  const started = await startRsync(args, {
    onItemized: (line) => {
      if (itemizedName(line) === itemized) linked();
    },
  });
  let finished: Promise<RsyncRun> | null = null;
  const finish = (list: string): Promise<RsyncRun> => {
    if (finished === null) {
      started.stdin?.end(list);
      finished = started.finished.finally(async () => {
        release();
        await rm(dir, { recursive: true, force: true });
      });
    }
    return finished;
  };
  return {
    commit: async () => {
      const run = finish(`${name}\0`).then((r) => {
        ctx.log.debug({ node: ctx.nodeName, args, exitCode: r.exitCode }, 'rsync switch');
        return r;
      });
      const first = await Promise.race([inPlace, run]);
      if (first !== null) {
        if (first.exitCode !== 0) ctx.fail('switch on', first);
        return;
      }
      // In place: the rest is rsync's own ending, heard in the background.
      const warn = (fields: object) =>
        ctx.log.warn(
          { node: ctx.nodeName, ...fields },
          'switch rsync failed after the link was in place',
        );
      const end = run.then(
        (r) => {
          if (r.exitCode !== 0) warn({ stderr: r.stderr });
        },
        (e: unknown) => warn({ err: e }),
      );
      ctx.ending.add(end);
      void end.finally(() => ctx.ending.delete(end));
    },
    cancel: async () => {
      await finish('');
    },
  };
}
