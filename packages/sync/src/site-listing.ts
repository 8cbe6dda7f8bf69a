// How a push lists the site it publishes: the same names rsync's upload will
// send, with the same filters, found by a walk or by rsync itself.
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { OwncdnError, parseListLine } from '@owncdn/core';
import type { Config } from '@owncdn/core';

/** rsync's complaints kept for an error message. */
const STDERR_MAX_CHARS = 8 * 1024;

/** rsync's listing letter for each entry type: part of what the content hash covers. */
const KIND = { file: '-', dir: 'd', symlink: 'l' } as const;

/** Files hashed between two yields to the event loop. */
export const HASH_SLICE = 256;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Between slices of synchronous file calls (every HASH_SLICE-th `index`): a
 * turn of the event loop (signals, timers), then a stop if `signal` aborted.
 */
export async function sliceBreak(index: number, signal?: AbortSignal): Promise<void> {
  if (index % HASH_SLICE !== 0) return;
  await yieldToLoop();
  if (signal?.aborted) throw interrupted();
}

export const interrupted = () =>
  new OwncdnError(
    'OWNCDN_SYNC_PUSH_FAILED',
    'push interrupted while hashing the site; no node was touched',
  );

/** `source` with one trailing slash: a site path is then `prefix + name`, no join per file. */
export function sitePrefix(source: string): string {
  return source.endsWith('/') ? source : `${source}/`;
}

/** Throws OWNCDN_USAGE unless `source` is a directory. */
export async function checkSource(source: string): Promise<void> {
  const info = await stat(source).catch(() => null);
  if (!info?.isDirectory()) {
    throw new OwncdnError(
      'OWNCDN_USAGE',
      `${source}: no such directory (set site.content in owncdn.yaml, or pass --content DIR)`,
    );
  }
}

/**
 * rsync filter rules for what a push publishes: the user's `sync.exclude`
 * first, then no dotfiles (.git, .env, editor droppings) except `.well-known`.
 */
export function publishFilters(config: Config): string[] {
  return [...config.sync.exclude.map((pattern) => `- ${pattern}`), ...DEFAULT_FILTERS];
}

/** What is published without `sync.exclude`: no dotfiles, but `/.well-known/`. */
const DEFAULT_FILTERS = ['+ /.well-known/', '- .*'] as const;

function isDefaultFilters(filters: readonly string[]): boolean {
  return (
    filters.length === DEFAULT_FILTERS.length && filters.every((f, i) => f === DEFAULT_FILTERS[i])
  );
}

/**
 * Lists the site as `rsync -r --links` with DEFAULT_FILTERS would (the
 * tests compare the two on a tree of every kind of name): directory entries
 * carry their type, so only symlinks need a call of their own, and no second
 * process lists 20,000 files for this one to parse. Other filters (user
 * excludes, in rsync's own pattern language) are listed by rsync itself.
 */
async function walkSite(
  source: string,
  add: AddEntry,
  signal: AbortSignal | undefined,
): Promise<void> {
  const prefix = sitePrefix(source);
  let count = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of readdirSync(prefix + dir, { withFileTypes: true })) {
      await sliceBreak(++count, signal);
      const name = dir + entry.name;
      // `- .*` at any depth; `+ /.well-known/` (first match wins) only for the top-level directory.
      if (entry.name.startsWith('.') && !(name === '.well-known' && entry.isDirectory())) continue;
      if (entry.isDirectory()) {
        add('d', name, '');
        await walk(`${name}/`);
      } else if (entry.isFile()) add('-', name, '');
      else if (entry.isSymbolicLink()) add('l', name, readlinkSync(prefix + name));
      // Sockets, FIFOs and devices: rsync without -D leaves them out too.
    }
  };
  try {
    await walk('');
  } catch (error) {
    if (error instanceof OwncdnError) throw error;
    throw new OwncdnError(
      'OWNCDN_SYNC_PUSH_FAILED',
      `listing ${source} failed (${error instanceof Error ? error.message : String(error)}); no node was touched`,
      { cause: error },
    );
  }
}

/** Runs `rsync … --list-only`, handing each line of its output to `onLine` as it arrives. */
function listWithRsync(
  args: readonly string[],
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('rsync', args, {
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(signal ? { signal } : {}),
    });
    let pending = '';
    let stderr = '';
    let failed: Error | null = null;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      try {
        for (const line of lines) onLine(line);
      } catch (error) {
        // A file that vanished meanwhile: reported once rsync is gone.
        failed ??= error instanceof Error ? error : new Error(String(error));
        child.kill();
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < STDERR_MAX_CHARS) stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (failed === null && pending) {
        try {
          onLine(pending);
        } catch (error) {
          failed = error instanceof Error ? error : new Error(String(error));
        }
      }
      if (failed !== null) reject(failed);
      else if (code === 0) resolve();
      else reject(new Error(`rsync exited with ${code ?? 'a signal'}: ${stderr.trim()}`));
    });
  });
}

/** Called for each listed entry: kind `-` file, `d` directory, `l` symlink (with its target). */
export type AddEntry = (kind: string, name: string, target: string) => void;

/**
 * Lists what an upload with `filters` publishes from `source`, calling `add`
 * for each entry as it is found: by walkSite for the default filters, else by
 * rsync itself, which speaks the user's pattern language.
 */
export async function listSite(
  source: string,
  filters: readonly string[],
  add: AddEntry,
  signal?: AbortSignal,
): Promise<void> {
  if (isDefaultFilters(filters)) {
    await walkSite(source, add, signal);
    return;
  }
  const args = [
    '-r',
    '--links',
    '--list-only',
    '--no-human-readable',
    '-8',
    ...filters.map((f) => `--filter=${f}`),
    `${source}/`,
  ];
  const onLine = (line: string) => {
    const entry = parseListLine(line);
    if (!entry || entry.name === '.' || entry.type === 'other') return;
    add(KIND[entry.type], entry.name, entry.target ?? '');
  };
  await listWithRsync(args, onLine, signal).catch((error: unknown) => {
    if (signal?.aborted) throw interrupted();
    if (error instanceof OwncdnError) throw error;
    throw new OwncdnError(
      'OWNCDN_RSYNC_FAILED',
      `listing ${source} with rsync failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  });
}
