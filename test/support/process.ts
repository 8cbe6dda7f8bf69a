import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { onTestFinished } from 'vitest';

export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the process wrote so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves when a line matching `pattern` appears (or rejects when the process exits first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` to the process (by PID) and waits for it to exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

export interface StartDaemonOptions extends SpawnOptions {
  /** Resolve only when this appears in the output: readiness by signal, never by sleep. */
  readonly ready?: RegExp;
  readonly readyTimeoutMs?: number;
  /** Stop it when the current test finishes (default true). */
  readonly cleanup?: boolean;
}

/**
 * Starts a long-running program (sshd, pebble, an owncdn service) and waits
 * for its readiness line. It is stopped by PID when the test finishes.
 */
export async function startDaemon(
  command: string,
  args: readonly string[],
  options: StartDaemonOptions = {},
): Promise<Daemon> {
  const { ready, readyTimeoutMs = 20_000, cleanup = true, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let log = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    log += chunk.toString('utf8');
    for (const wake of waiters) wake();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? null : 0);
      for (const wake of waiters) wake();
      resolve(exitCode);
    });
    child.once('error', (error) => {
      log += `\n[spawn error] ${error.message}\n`;
      exitCode = -1;
      for (const wake of waiters) wake();
      resolve(-1);
    });
  });

  const waitFor = (pattern: RegExp, timeoutMs = readyTimeoutMs) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = log.match(pattern);
        if (match) return done(() => resolve(match));
        if (exitCode !== undefined) {
          return done(() =>
            reject(
              new Error(
                `${command} exited (${String(exitCode)}) before printing ${String(pattern)}; output:\n${log}`,
              ),
            ),
          );
        }
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(
              new Error(
                `${command} did not print ${String(pattern)} within ${timeoutMs} ms; output:\n${log}`,
              ),
            ),
          ),
        timeoutMs,
      );
      const done = (finish: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        finish();
      };
      waiters.add(check);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5_000) => {
    if (exitCode !== undefined || child.pid === undefined) return exitCode ?? null;
    child.kill(signal);
    const timer = setTimeout(() => {
      if (exitCode === undefined) child.kill('SIGKILL');
    }, timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };

  const daemon: Daemon = {
    child,
    get pid() {
      return child.pid ?? -1;
    },
    output: () => log,
    waitFor,
    stop,
    exited,
  };
  if (cleanup) onTestFinished(async () => void (await stop()));
  if (ready) {
    try {
      await waitFor(ready);
    } catch (error) {
      await stop('SIGKILL');
      throw error;
    }
  }
  return daemon;
}

/** True when a process with this PID is still alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH: no such process, which is the answer we want.
    return false;
  }
}
