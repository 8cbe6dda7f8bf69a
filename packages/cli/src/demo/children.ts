import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `owncdn` program this process runs from, started again for each service. */
export const OWNCDN_BIN = fileURLToPath(new URL('../../bin/owncdn.js', import.meta.url));

/** One JSON log record of a child (pino's shape: `msg`, `level` and the fields). */
export type LogRecord = Readonly<Record<string, unknown>> & { readonly msg?: string };

/**
 * A service the demo started: an `owncdn` (or other) process whose output
 * goes to `logs/<name>.log`, whose JSON log lines can be waited for.
 */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly #log: WriteStream;
  readonly #records: LogRecord[] = [];
  readonly #lines: string[] = [];
  readonly #waiters = new Set<() => void>();
  #exitCode: number | null | undefined;
  readonly exited: Promise<number | null>;

  constructor(
    name: string,
    command: string,
    args: readonly string[],
    logDir: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.name = name;
    this.#log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
    this.process = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let pending = '';
    const onData = (chunk: Buffer) => {
      this.#log.write(chunk);
      pending += chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        this.#addLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
    };
    this.process.stdout?.on('data', onData);
    this.process.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.process.once('error', (error) => {
        this.#addLine(`[could not start ${command}: ${error.message}]`);
        this.#exitCode = -1;
        this.#wake();
        resolve(-1);
      });
      this.process.once('exit', (code) => {
        this.#exitCode = code;
        this.#wake();
        this.#log.end();
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** Everything the process printed, as lines. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  #addLine(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > 500) this.#lines.shift();
    if (line.startsWith('{')) {
      try {
        const record: unknown = JSON.parse(line);
        if (record && typeof record === 'object') this.#records.push(record as LogRecord);
      } catch {
        // Not a JSON log line (a child's plain output); kept in `lines` only.
      }
    }
    this.#wake();
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** Resolves with the first log record whose `msg` is `message` (or rejects if the process exits first). */
  waitForLog(message: string, timeoutMs = 30_000): Promise<LogRecord> {
    return this.#waitFor(
      () => this.#records.find((r) => r.msg === message),
      `"${message}"`,
      timeoutMs,
    );
  }

  /** Resolves with the first plain output line matching `pattern` (for programs that are not owncdn). */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return this.#waitFor(
      () => {
        for (const line of this.#lines) {
          const match = pattern.exec(line);
          if (match) return match;
        }
        return undefined;
      },
      String(pattern),
      timeoutMs,
    );
  }

  #waitFor<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found !== undefined) return finish(() => resolve(found));
        if (this.#exitCode !== undefined)
          finish(() =>
            reject(
              new Error(
                `${this.name} exited (status ${String(this.#exitCode)}) before printing ${what}\n${this.tail()}`,
              ),
            ),
          );
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new Error(
                `${this.name} did not print ${what} within ${timeoutMs} ms\n${this.tail()}`,
              ),
            ),
          ),
        timeoutMs,
      );
      const finish = (done: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        done();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** The last lines of output, indented, for error messages. */
  tail(count = 12): string {
    return this.#lines
      .slice(-count)
      .map((line) => `    ${line}`)
      .join('\n');
  }

  /** SIGTERM by PID, then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.process.kill('SIGKILL');
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Starts `owncdn <args>` with JSON logs, as a child named `name`. */
export function startOwncdn(name: string, args: readonly string[], logDir: string): Child {
  return new Child(name, process.execPath, [OWNCDN_BIN, ...args, '--log-format', 'json'], logDir);
}

/** Runs `owncdn <args>` to completion; resolves with its exit status and output. */
export async function runOwncdn(
  name: string,
  args: readonly string[],
  logDir: string,
): Promise<{ status: number | null; child: Child }> {
  const child = startOwncdn(name, args, logDir);
  const status = await child.exited;
  return { status, child };
}
