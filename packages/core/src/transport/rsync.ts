import type { execa } from 'execa';
import { loadExeca } from './exec.js';
import type { TransferProgress, TransferResult } from './types.js';
import { PROCESS_ENV } from './ssh.js';

export interface RsyncRun {
  readonly exitCode: number | undefined;
  readonly stderr: string;
  /** Itemized changes (or, with keepAllLines, every line that is neither progress nor stats). */
  readonly lines: string[];
  readonly stats: Map<string, string>;
  readonly aborted: boolean;
}

export interface RunRsyncOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TransferProgress) => void;
  /** Keep every stdout line (listings), not only itemized changes. */
  readonly keepAllLines?: boolean;
  /** Text written to rsync's stdin; when undefined, startRsync leaves stdin open. */
  readonly input?: string;
  /** Hears each itemized change (`cL+++++++++ current -> releases/…`) as rsync prints it. */
  readonly onItemized?: (line: string) => void;
}

/** `  1,234,567  45%   12.34MB/s    0:00:01 (xfr#3, to-chk=10/20)` (`--info=progress2`). */
const PROGRESS_LINE = /^\s*([\d,]+)\s+(\d+)%\s+([\d.,]+)([kMGT]?)B\/s\S*\s+\S+(?:\s+\(xfr#(\d+))?/;
/** A machine-readable line per changed name (`>f+++++++++ name`, `cL+++++++++ link -> target`). */
export const CHANGES_FLAG = '--out-format=%i %n%L';
/** `>f+++++++++ name`, `cd+++++++++ dir/`, `*deleting   name` (CHANGES_FLAG's lines). */
const ITEMIZED_LINE = /^(\*deleting|[<>ch.][fdLDS][-.+?a-zA-Z ]{9}) /;

/** What a CHANGES_FLAG line names: `name`, or `name -> target` for a link (`%i` is 11 characters and a space). */
export function itemizedName(line: string): string {
  return line.slice(12);
}
/** `Total bytes sent: 1,234` and the other `--stats` lines. */
const STATS_LINE =
  /^(Number of [^:]+|Total [^:]+|Literal data|Matched data|File list [^:]+|sent|total size is)[:\s]/;
const UNIT: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/** Runs rsync with `args`, streaming progress and collecting its output lines and `--stats`. */
export async function runRsync(
  args: readonly string[],
  options: RunRsyncOptions = {},
): Promise<RsyncRun> {
  return (await startRsync(args, { ...options, input: options.input ?? '' })).finished;
}

/**
 * Starts rsync; without `input`, its stdin stays open for the caller (for a
 * `--files-from=-` list written later: the transfer is connected and waits).
 */
export async function startRsync(
  args: readonly string[],
  options: RunRsyncOptions = {},
): Promise<{ stdin: NodeJS.WritableStream | null; finished: Promise<RsyncRun> }> {
  const execa = await loadExeca();
  const child = execa('rsync', args, {
    reject: false,
    env: PROCESS_ENV,
    cancelSignal: options.signal,
    // rsync cleans up its temporary files on SIGTERM; give it a moment before SIGKILL.
    forceKillAfterDelay: 3_000,
    ...(options.input === undefined ? { stdin: 'pipe' as const } : { input: options.input }),
    buffer: { stdout: false, stderr: true },
  });
  return {
    stdin: options.input === undefined ? child.stdin : null,
    finished: collect(child, options),
  };
}

async function collect(
  child: ReturnType<typeof execa>,
  options: RunRsyncOptions,
): Promise<RsyncRun> {
  const lines: string[] = [];
  const stats = new Map<string, string>();
  let pending = '';
  const onProgress = (line: string): boolean => {
    const progress = PROGRESS_LINE.exec(line);
    if (!progress) return false;
    const [, bytes = '0', percent = '0', speed = '0', unit = '', files] = progress;
    options.onProgress?.({
      ...(files === undefined ? {} : { files: Number(files) }),
      bytes: Number(bytes.replaceAll(',', '')),
      percent: Number(percent),
      bytesPerSecond: Math.round(Number(speed.replaceAll(',', '')) * (UNIT[unit] ?? 1)),
    });
    return true;
  };
  const onLine = (line: string) => {
    if (onProgress(line)) return;
    if (STATS_LINE.test(line)) {
      const colon = line.indexOf(':');
      if (colon > 0) stats.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      return;
    }
    if (ITEMIZED_LINE.test(line)) {
      lines.push(line);
      options.onItemized?.(line);
    } else if (options.keepAllLines) lines.push(line);
  };
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    const parts = (pending + chunk).split(/\r\n|\r|\n/);
    pending = parts.pop() ?? '';
    // Progress lines are running totals, one per file sent: only the newest of
    // a chunk is parsed and reported. A first push of 20,000 small files is
    // 20,000 of them per node.
    let progress: string | null = null;
    for (const part of parts) {
      if (PROGRESS_LINE.test(part)) progress = part;
      else onLine(part);
    }
    if (progress !== null) onProgress(progress);
  });
  const result = await child;
  if (pending) onLine(pending);
  return {
    exitCode: result.exitCode,
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    lines,
    stats,
    aborted: result.isCanceled || result.isTerminated,
  };
}

/** The first number in a `--stats` value (`2,001 (reg: 2,000, dir: 1)` → 2001). */
function statNumber(stats: Map<string, string>, key: string, inner?: string): number {
  const value = stats.get(key) ?? '';
  const source = inner
    ? (new RegExp(`${inner}: ([\\d,]+)`).exec(value)?.[1] ?? '0')
    : (/[\d,]+/.exec(value)?.[0] ?? '0');
  return Number(source.replaceAll(',', ''));
}

/** The TransferResult of a finished `rsync --stats --out-format='%i %n%L'` run. */
export function transferResult(run: RsyncRun): TransferResult {
  const files = statNumber(run.stats, 'Number of files', 'reg');
  return {
    filesTransferred: statNumber(run.stats, 'Number of regular files transferred'),
    filesTotal:
      files === 0 && !/reg:/.test(run.stats.get('Number of files') ?? '')
        ? statNumber(run.stats, 'Number of files')
        : files,
    bytesSent: statNumber(run.stats, 'Total bytes sent'),
    changes: run.lines.map(decodeRsyncName),
  };
}

/** rsync prints unprintable bytes of names as `\#ooo` (octal); this restores them as UTF-8. */
export function decodeRsyncName(text: string): string {
  if (!text.includes('\\#')) return text;
  const bytes: number[] = [];
  const raw = Buffer.from(text, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && raw[i + 1] === 0x23 && i + 4 < raw.length + 1) {
      const octal = raw.subarray(i + 2, i + 5).toString('latin1');
      if (/^[0-7]{3}$/.test(octal)) {
        bytes.push(parseInt(octal, 8));
        i += 4;
        continue;
      }
    }
    bytes.push(raw[i] ?? 0);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Escapes a literal name for an rsync filter rule: wildcards only mean something when one is present. */
export function filterLiteral(name: string): string {
  return /[*?[]/.test(name) ? name.replace(/[*?[\\]/g, '\\$&') : name;
}

/**
 * Parses one `rsync --list-only` line: `drwxr-xr-x          4,096 2026/11/23 10:45:00 name`
 * (symlinks end in ` -> target`).
 */
export function parseListLine(line: string): {
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  name: string;
  target: string | null;
} | null {
  const match =
    /^([-dlcbps])[-rwxsStT]{9}\S*\s+([\d,]+)\s+\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (.*)$/.exec(line);
  if (!match) return null;
  const [, kind = '', size = '0', rest = ''] = match;
  const type = kind === '-' ? 'file' : kind === 'd' ? 'dir' : kind === 'l' ? 'symlink' : 'other';
  let name = rest;
  let target: string | null = null;
  if (type === 'symlink') {
    const arrow = rest.indexOf(' -> ');
    if (arrow >= 0) {
      name = rest.slice(0, arrow);
      target = decodeRsyncName(rest.slice(arrow + 4));
    }
  }
  return { type, size: Number(size.replaceAll(',', '')), name: decodeRsyncName(name), target };
}
