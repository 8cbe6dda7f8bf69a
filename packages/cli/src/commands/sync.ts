import {
  ERROR_CODES,
  OwncdnError,
  createSilentLogger,
  formatBytes,
  formatDuration,
  isOwncdnError,
} from '@owncdn/core';
import type { ErrorCode, Logger } from '@owncdn/core';
import type {
  NodeState,
  PushResult,
  RollbackResult,
  StatusResult,
  SyncEvent,
  SyncFailure,
} from '@owncdn/sync';
import type { Command } from 'commander';
import type { CommandContext, GlobalOptions } from '../context.js';

/** Redraw the live lines at most this often: rsync reports progress many times a second per node. */
const REDRAW_MS = 100;

interface CommonFlags {
  readonly only?: string;
  readonly json?: boolean;
  readonly dryRun?: boolean;
}

/** `--only au,fr` → `['au', 'fr']` (names are checked against owncdn.yaml by the library). */
function parseOnly(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new OwncdnError('OWNCDN_USAGE', '--only needs node names, e.g. --only au,fr');
  return names;
}

function parsePositive(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new OwncdnError(
      'OWNCDN_USAGE',
      `${flag} must be a whole number ≥ 1 (got ${JSON.stringify(value)})`,
    );
  return n;
}

/** A failure from a result, as the error the CLI maps to an exit status. */
function asError(failure: SyncFailure): OwncdnError {
  const code = (ERROR_CODES as readonly string[]).includes(failure.code)
    ? (failure.code as ErrorCode)
    : 'OWNCDN_SYNC_PUSH_FAILED';
  return new OwncdnError(code, failure.message);
}

interface NodeLine {
  state: NodeState;
  bytes: number;
  percent: number;
  bytesPerSecond: number;
  files: number;
  message: string;
}

interface ProgressView {
  readonly onEvent: (event: SyncEvent) => void;
  readonly done: () => void;
  /** Whether `progress` events are shown (only live lines do): uploads report them only then. */
  readonly showsProgress: boolean;
}

/**
 * Shows progress: on a terminal, one live line per node (redrawn); otherwise
 * one plain line per state change. `--json` shows nothing until the result.
 */
async function createProgressView(ctx: CommandContext, json: boolean): Promise<ProgressView> {
  if (json) return { onEvent: () => undefined, done: () => undefined, showsProgress: false };
  if (!ctx.isTTY) {
    return {
      showsProgress: false,
      onEvent: (event) => {
        if (event.type === 'release')
          ctx.stdout.write(
            `release ${event.release}: ${event.files} files, ${formatBytes(event.bytes)}${event.reused ? ' (resuming an earlier upload)' : ''}\n`,
          );
        else if (event.type === 'state')
          ctx.stdout.write(
            `${event.node}: ${event.state}${event.message ? ` (${event.message})` : ''}\n`,
          );
        else if (event.type === 'warning') ctx.stdout.write(`warning: ${event.message}\n`);
      },
      done: () => undefined,
    };
  }
  const lines = new Map<string, NodeLine>();
  const notes: string[] = [];
  // Only a terminal redraws lines; loading log-update (~0.1 s) elsewhere would only slow a push down.
  const { createLogUpdate } = await import('log-update');
  const live = createLogUpdate(ctx.stdout);
  let timer: NodeJS.Timeout | null = null;
  const draw = () => {
    timer = null;
    const width = Math.max(4, ...[...lines.keys()].map((n) => n.length));
    const rows = [...lines].map(([node, l]) => {
      const transfer =
        l.state === 'uploading'
          ? `  ${formatBytes(l.bytes).padStart(10)}  ${String(l.percent).padStart(3)}%  ${formatBytes(l.bytesPerSecond)}/s  ${l.files} files`
          : '';
      return `${node.padEnd(width)}  ${l.state.padEnd(12)}${transfer}${l.message ? `  ${l.message}` : ''}`;
    });
    live([...notes, ...rows].join('\n'));
  };
  const schedule = () => {
    timer ??= setTimeout(draw, REDRAW_MS);
  };
  return {
    showsProgress: true,
    onEvent: (event) => {
      if (event.type === 'release')
        notes.push(
          `release ${event.release}: ${event.files} files, ${formatBytes(event.bytes)}${event.reused ? ' (resuming an earlier upload)' : ''}`,
        );
      else if (event.type === 'warning') notes.push(`warning: ${event.message}`);
      else {
        const line = lines.get(event.node) ?? {
          state: 'connecting',
          bytes: 0,
          percent: 0,
          bytesPerSecond: 0,
          files: 0,
          message: '',
        };
        if (event.type === 'state')
          Object.assign(line, { state: event.state, message: event.message ?? '' });
        else
          Object.assign(line, {
            bytes: event.bytes,
            percent: event.percent,
            bytesPerSecond: event.bytesPerSecond,
            files: event.files,
          });
        lines.set(event.node, line);
      }
      schedule();
    },
    done: () => {
      if (timer) clearTimeout(timer);
      draw();
      live.done();
    },
  };
}

/** Left-aligned columns, header first. */
function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return `${rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

function renderPush(result: PushResult): string {
  const rows = [
    ['node', 'state', 'files sent', 'bytes sent', 'upload', 'origin', 'pruned', 'error'],
  ];
  for (const n of result.nodes) {
    rows.push([
      n.node,
      n.state,
      `${n.filesTransferred}/${n.filesTotal}`,
      formatBytes(n.bytesSent),
      formatDuration(n.uploadMs),
      n.confirmation,
      String(n.pruned.length),
      n.error?.message ?? '',
    ]);
  }
  let text = `${result.dryRun ? 'dry run of' : 'release'} ${result.release} (${result.files} files, ${formatBytes(result.bytes)}) in ${formatDuration(result.durationMs)}`;
  text += result.switchSkewMs === null ? '\n' : `, switch skew ${result.switchSkewMs} ms\n`;
  text += table(rows);
  if (result.dryRun) {
    for (const n of result.nodes)
      text += `\n${n.node}: ${n.changes.length === 0 ? 'no changes' : `${n.changes.length} changes`}\n${n.changes.map((c) => `  ${c}\n`).join('')}`;
  }
  return text;
}

function renderRollback(result: RollbackResult): string {
  const rows = [['node', 'was', 'now', 'origin']];
  for (const n of result.nodes)
    rows.push([
      n.node,
      n.previous ?? '-',
      result.dryRun ? `(would be ${result.release})` : (n.current ?? '-'),
      n.confirmation,
    ]);
  const skew = result.switchSkewMs === null ? '' : `, switch skew ${result.switchSkewMs} ms`;
  return `${result.dryRun ? 'would roll back to' : 'rolled back to'} ${result.release}${skew}\n${table(rows)}`;
}

function renderStatus(result: StatusResult): string {
  const rows = [['node', 'reachable', 'current', 'kept', 'origin', 'serving']];
  for (const n of result.nodes) {
    rows.push([
      n.node,
      n.reachable ? 'yes' : `no: ${n.error?.message ?? ''}`,
      n.current ?? '-',
      String(n.releases.length) +
        (n.incomplete.length ? ` (+${n.incomplete.length} incomplete)` : ''),
      n.origin.reachable ? `up (${n.origin.statusCode ?? '?'})` : 'down',
      n.origin.release ?? '-',
    ]);
  }
  const verdict = result.agree ? `all nodes agree on ${result.release ?? '-'}` : 'nodes disagree';
  return `${table(rows)}${verdict}\n`;
}

/**
 * Runs one sync action: progress while it runs, then the table or `--json`;
 * a failed result becomes the error the CLI maps to exit status 1.
 */
async function runAction<R extends { ok: boolean; error?: SyncFailure | null }>(
  ctx: CommandContext,
  flags: CommonFlags,
  action: (onEvent: (event: SyncEvent) => void, showsProgress: boolean) => Promise<R>,
  render: (result: R) => string,
  failure: (result: R) => SyncFailure | null,
): Promise<void> {
  const view = await createProgressView(ctx, flags.json ?? false);
  let result: R;
  try {
    result = await action(view.onEvent, view.showsProgress);
  } catch (error) {
    view.done();
    if (flags.json && isOwncdnError(error))
      ctx.stdout.write(
        `${JSON.stringify({ ok: false, error: { code: error.code, message: error.message } }, null, 2)}\n`,
      );
    throw error;
  }
  view.done();
  ctx.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : render(result));
  const problem = failure(result);
  if (problem) throw asError(problem);
}

/** `owncdn sync push|status|rollback`: publish, inspect and roll back releases on every node. */
export function registerSync(program: Command, context: () => CommandContext): void {
  // Loaded on use: `owncdn --help` and the other commands need not pay for it.
  const syncPackage = () => import('@owncdn/sync');
  // The live lines on a terminal already show every event the library logs at
  // info and warn; its log lines would only scroll them away (--log-level
  // debug keeps them).
  const logFor = (ctx: CommandContext, flags: CommonFlags): Logger =>
    ctx.isTTY && !flags.json && program.opts<GlobalOptions>().logLevel !== 'debug'
      ? createSilentLogger()
      : ctx.log;
  const sync = program
    .command('sync')
    .description('Publish, inspect and roll back releases on every node');

  sync
    .command('push')
    .exitOverride()
    .description('Upload site.content to every node as a new release, then switch them all at once')
    .option('--content <dir>', 'directory to publish (overrides site.content)')
    .option('--dry-run', 'list what would change per node; touch nothing')
    .option('--only <nodes>', 'only these nodes, comma-separated (e.g. au,fr)')
    .option('--allow-partial', 'switch the nodes whose upload succeeded even if others failed')
    .option('--keep <n>', 'releases to keep per node (overrides sync.keep)')
    .option(
      '--full',
      'compare every file on the nodes, not only what changed since the release being replaced (after editing a node by hand)',
    )
    .option('--bwlimit <KiBps>', 'upload bandwidth limit per node, KiB/s')
    .option('--json', 'print one JSON result instead of progress and a table')
    .action(
      async (
        flags: CommonFlags & {
          content?: string;
          allowPartial?: boolean;
          keep?: string;
          bwlimit?: string;
          full?: boolean;
        },
      ) => {
        const ctx = context();
        // The library loads while the config is read and checked.
        const [config, { push }] = await Promise.all([ctx.loadConfig(), syncPackage()]);
        const keep = parsePositive('--keep', flags.keep);
        const bwlimitKiBps = parsePositive('--bwlimit', flags.bwlimit);
        await runAction(
          ctx,
          flags,
          (onEvent, showsProgress) =>
            push(config, {
              only: parseOnly(flags.only),
              dryRun: flags.dryRun ?? false,
              allowPartial: flags.allowPartial ?? false,
              full: flags.full ?? false,
              log: logFor(ctx, flags),
              signal: ctx.signal,
              onEvent,
              progress: showsProgress,
              ...(flags.content === undefined ? {} : { content: flags.content }),
              ...(keep === undefined ? {} : { keep }),
              ...(bwlimitKiBps === undefined ? {} : { bwlimitKiBps }),
            }),
          renderPush,
          (r) => r.error,
        );
      },
    );

  sync
    .command('status')
    .exitOverride()
    .description(
      'Show per node: reachable, current release, releases kept, what origin serves, and whether all agree',
    )
    .option('--only <nodes>', 'only these nodes, comma-separated (e.g. au,fr)')
    .option('--json', 'print one JSON result instead of a table')
    .action(async (flags: CommonFlags) => {
      const ctx = context();
      // The library loads while the config is read and checked.
      const [config, { status }] = await Promise.all([ctx.loadConfig(), syncPackage()]);
      await runAction(
        ctx,
        flags,
        (onEvent) =>
          status(config, {
            only: parseOnly(flags.only),
            log: ctx.log,
            signal: ctx.signal,
            onEvent: ctx.isTTY ? undefined : onEvent,
          }),
        renderStatus,
        (r) => {
          const down = r.nodes.filter((n) => !n.reachable);
          if (down.length > 0)
            return {
              code: down[0]?.error?.code ?? 'OWNCDN_SSH_UNREACHABLE',
              message: down.map((n) => n.error?.message ?? `${n.node} unreachable`).join('\n'),
            };
          return r.agree
            ? null
            : {
                code: 'OWNCDN_SYNC_NOT_CONFIRMED',
                message:
                  'the nodes do not all serve the same release (see the table above); run owncdn sync push or rollback',
              };
        },
      );
    });

  sync
    .command('rollback')
    .exitOverride()
    .description('Switch every node back to the previous release (or --to ID), all at once')
    .option('--to <id>', 'release to switch to (see owncdn sync status)')
    .option('--dry-run', 'say what would be switched; touch nothing')
    .option('--only <nodes>', 'only these nodes, comma-separated (e.g. au,fr)')
    .option('--json', 'print one JSON result instead of a table')
    .action(async (flags: CommonFlags & { to?: string }) => {
      const ctx = context();
      // The library loads while the config is read and checked.
      const [config, { rollback }] = await Promise.all([ctx.loadConfig(), syncPackage()]);
      await runAction(
        ctx,
        flags,
        (onEvent) =>
          rollback(config, {
            only: parseOnly(flags.only),
            dryRun: flags.dryRun ?? false,
            log: logFor(ctx, flags),
            signal: ctx.signal,
            onEvent,
            ...(flags.to === undefined ? {} : { to: flags.to }),
          }),
        renderRollback,
        (r) => r.error,
      );
    });
}
