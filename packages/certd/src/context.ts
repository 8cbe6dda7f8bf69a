import type { Config, Logger, NodeConfig, NodeTransport } from '@owncdn/core';

/**
 * Timing knobs. Defaults suit a real CA; tests set them low (STYLE.md §9).
 * None of them is a sleep inside an ACME request: those are bounded by
 * `requestTimeoutMs`.
 */
export interface CertdTimings {
  /** Per ACME or node request, ms. */
  readonly requestTimeoutMs: number;
  /** First wait between ACME status polls, ms (acme-client's own default is 5 s). */
  readonly pollIntervalMs: number;
  readonly pollMaxIntervalMs: number;
  readonly pollAttempts: number;
  /** Checks that a node serves a token / a nameserver a TXT / a node the new certificate, before giving up. */
  readonly checkAttempts: number;
  /** Wait between those checks, ms. */
  readonly checkIntervalMs: number;
  /** Waits after the 1st, 2nd, … failed attempt to obtain a certificate, ms; the last repeats. */
  readonly retryDelaysMs: readonly number[];
}

/** Retry delays after failed issuance attempts (certmagic-like; never hammer the CA). */
export const RETRY_DELAYS_MS: readonly number[] = [
  60_000, // elapsed: 1 min
  5 * 60_000, // elapsed: 6 min
  15 * 60_000, // elapsed: 21 min
  60 * 60_000, // elapsed: 1 h 21 min
  3 * 3_600_000, // elapsed: 4 h 21 min
  6 * 3_600_000, // then every 6 h: well inside a 90-day (or 6-day) certificate's renewal margin
];

export const DEFAULT_TIMINGS: CertdTimings = {
  requestTimeoutMs: 30_000,
  // Let's Encrypt validates within seconds; 1 s first poll, doubling to 10 s.
  pollIntervalMs: 1_000,
  pollMaxIntervalMs: 10_000,
  pollAttempts: 12,
  // A node's origin picks up a new file within a second or two.
  checkAttempts: 10,
  checkIntervalMs: 1_000,
  retryDelaysMs: RETRY_DELAYS_MS,
};

/** What every step of a pass gets. */
export interface CertdContext {
  readonly config: Config;
  readonly log: Logger;
  readonly timings: CertdTimings;
  /** The transport to each node, by node name. */
  transport(node: NodeConfig): NodeTransport;
  /** Port geodns answers DNS on at each nameserver's address (53; tests use another). */
  readonly dnsPort: number;
  /** Extra CA (PEM) for the ACME server, e.g. Pebble's, already read from `certd.caCert`. */
  readonly caPem: string | null;
  readonly signal: AbortSignal | undefined;
  /** The clock, in epoch ms. */
  now(): number;
}

/** Runs `check` up to `attempts` times, `intervalMs` apart, until it returns null (= ok); returns the last problem. */
export async function retryCheck(
  check: () => Promise<string | null>,
  attempts: number,
  intervalMs: number,
  signal?: AbortSignal,
): Promise<string | null> {
  let problem: string | null = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    problem = await check();
    if (problem === null || attempt === attempts || signal?.aborted) return problem;
    await delay(intervalMs, signal);
  }
  return problem;
}

/** setTimeout as a promise that resolves early when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The message of an error, for logs and state (never the stack, never secrets). */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
