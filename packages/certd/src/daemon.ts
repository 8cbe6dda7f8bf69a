import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTransport, OwncdnError } from '@owncdn/core';
import type { Config, Logger, NodeConfig, NodeTransport } from '@owncdn/core';
import { request } from 'undici';
import { DEFAULT_TIMINGS, delay, describeError } from './context.js';
import type { CertdContext, CertdTimings } from './context.js';
import { createMetrics, startMetricsServer } from './metrics.js';
import type { Metrics } from './metrics.js';
import { readCaCert, runPass } from './pass.js';
import type { PassResult } from './pass.js';
import { StateStore } from './store.js';

export interface CertdOptions {
  readonly log: Logger;
  /** Stops the daemon (and any pass in progress, between steps). */
  readonly signal?: AbortSignal;
  /** Timing knobs; tests set them low. */
  readonly timings?: Partial<CertdTimings>;
  /** DNS port of the nameservers for DNS-01 checks (default 53). */
  readonly dnsPort?: number;
  /** How certd reaches a node (default: core's ssh/rsync or local transport). */
  readonly transport?: (config: Config, node: NodeConfig, log: Logger) => NodeTransport;
  /** Clock (epoch ms) and randomness, for the ARI window pick and jitter. */
  readonly now?: () => number;
  readonly random?: () => number;
}

/** setTimeout's limit (2^31-1 ms); longer delays fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** Spread of the regular check interval (±10 %), so many certds do not poll a CA in lockstep. */
const CHECK_JITTER = 0.1;

export interface RunningCertd {
  /** Address of the /metrics listener, or null. */
  readonly address: AddressInfo | null;
  readonly metrics: Metrics;
  /** Runs a pass now (after the one in progress, if any). */
  reload(): Promise<PassResult>;
  close(): Promise<void>;
}

interface Runner {
  ctx: CertdContext;
  pass(): Promise<PassResult>;
  close(): Promise<void>;
  metrics: Metrics;
}

async function createRunner(config: Config, options: CertdOptions): Promise<Runner> {
  const log = options.log;
  const transports = new Map<string, NodeTransport>();
  const makeTransport = options.transport ?? ((c, node, l) => createTransport(c, node, { log: l }));
  const ctx: CertdContext = {
    config,
    log,
    timings: { ...DEFAULT_TIMINGS, ...options.timings },
    transport: (node) => {
      let t = transports.get(node.name);
      if (!t) transports.set(node.name, (t = makeTransport(config, node, log)));
      return t;
    },
    dnsPort: options.dnsPort ?? 53,
    caPem: await readCaCert(config.certd.caCert),
    signal: options.signal,
    now: options.now ?? Date.now,
  };
  const store = await StateStore.open(config.certd.state);
  const metrics = createMetrics();
  const random = options.random ?? Math.random;
  const alert = async (text: string) => {
    const url = config.certd.webhook;
    if (!url) return;
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8', title: 'owncdn certd' },
        body: text,
        signal: AbortSignal.timeout(ctx.timings.requestTimeoutMs),
      });
      await response.body.dump();
      if (response.statusCode >= 300)
        log.warn({ status: response.statusCode }, 'webhook refused the alert');
    } catch (error) {
      // The alert is also in the log at error level; a dead webhook must not stop renewals.
      log.warn({ err: describeError(error) }, 'webhook unreachable');
    }
  };
  return {
    ctx,
    metrics,
    pass: () => runPass(ctx, { store, metrics, random, alert }),
    close: async () => {
      await Promise.all([...transports.values()].map((t) => t.close()));
    },
  };
}

/**
 * One pass (`owncdn certd --once`): renew what is due, deploy what is
 * missing, and return what happened. Never loops; failures are in the
 * result and in the state file.
 */
export async function runCertdOnce(config: Config, options: CertdOptions): Promise<PassResult> {
  const runner = await createRunner(config, options);
  try {
    return await runner.pass();
  } finally {
    await runner.close();
  }
}

/**
 * Starts certd: a pass now, then again at the earliest of the next renewal
 * time, the end of a backoff, a node to catch up, or the regular check
 * (`certd.checkInterval`, twice a day by default, with jitter). Sleeps are
 * between passes only and end at once on `close()` or the signal.
 */
export async function startCertd(config: Config, options: CertdOptions): Promise<RunningCertd> {
  const runner = await createRunner(config, options);
  const { ctx, metrics } = runner;
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let metricsServer: Server | null = null;
  let address: AddressInfo | null = null;
  if (config.certd.metrics) {
    ({ server: metricsServer, address } = await startMetricsServer(config.certd.metrics, metrics));
  }
  let wake: (() => void) | null = null;
  let running: Promise<PassResult> | null = null;
  const random = options.random ?? Math.random;

  const passOnce = (): Promise<PassResult> => {
    const p = (running ?? Promise.resolve(null)).then(() => runner.pass());
    running = p;
    return p;
  };

  const loop = async () => {
    while (!signal.aborted) {
      let nextAt = ctx.now() + config.certd.checkIntervalMs;
      try {
        const result = await passOnce();
        const regular =
          ctx.now() +
          Math.round(config.certd.checkIntervalMs * (1 + CHECK_JITTER * (2 * random() - 1)));
        nextAt = Math.min(regular, ...result.certificates.map((c) => c.nextAt));
      } catch (error) {
        // A corrupt state file or a bug: log it and try again at the next check rather than exit silently.
        ctx.log.error(
          {
            err: describeError(error),
            code: error instanceof OwncdnError ? error.code : undefined,
          },
          'certd pass failed',
        );
      }
      // At least a node-check interval (no busy loop), at most what setTimeout can hold (~24.8 days).
      const waitMs = Math.min(
        Math.max(nextAt - ctx.now(), ctx.timings.checkIntervalMs),
        MAX_TIMER_MS,
      );
      ctx.log.debug({ next: new Date(ctx.now() + waitMs).toISOString() }, 'next pass');
      const woken = new AbortController();
      wake = () => woken.abort();
      await delay(waitMs, AbortSignal.any([signal, woken.signal]));
      wake = null;
    }
  };
  const looping = loop();
  ctx.log.info(
    {
      certificates: config.certd.certificates.map((c) => c.name),
      metrics: address ? `${address.address}:${address.port}` : null,
    },
    'certd started',
  );

  return {
    address,
    metrics,
    reload: async () => {
      const result = passOnce();
      wake?.();
      return result;
    },
    close: async () => {
      stop.abort();
      await looping;
      await runner.close();
      if (metricsServer)
        await new Promise<void>((resolve) => metricsServer?.close(() => resolve()));
    },
  };
}
