import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, NodeConfig } from '@owncdn/core';
import type { Agent, request as undiciRequest } from 'undici';

/** What a node's origin said on /healthz. */
export interface OriginHealth {
  /** False when nothing answered (no origin running, or the port is closed). */
  readonly reachable: boolean;
  /** The release origin serves (JSON field `release`), or null. */
  readonly release: string | null;
  readonly statusCode: number | null;
  readonly error: string | null;
}

/** Pause between /healthz polls while waiting for origin to pick up a switch (it reloads within ~100 ms). */
const CONFIRM_POLL_MS = 100;

/** `http://<ipv4>:<httpPort><origin.healthPath>` */
export function healthUrl(config: Config, node: NodeConfig): string {
  return `http://${node.ipv4}:${node.httpPort}${config.origin.healthPath}`;
}

/**
 * An HTTP client for one push, rollback or status run; close it when done so
 * no socket outlives the command. undici is loaded on first use (or warm()):
 * it is ~0.15 s of start-up a push need not wait for.
 */
export class HealthClient {
  #loaded: Promise<{ request: typeof undiciRequest; agent: Agent }> | null = null;

  #load() {
    this.#loaded ??= import('undici').then((undici) => ({
      request: undici.request,
      agent: new undici.Agent({ keepAliveTimeout: 1_000, connections: 4 }),
    }));
    return this.#loaded;
  }

  /** Starts loading the client while the caller waits on something else. */
  warm(): void {
    this.#load().catch(() => undefined); // a failed load is reported by the first get()
  }

  /** GET `url`: status and body text. */
  async get(
    url: string,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ statusCode: number; text: string }> {
    const { request, agent } = await this.#load();
    const response = await request(url, {
      dispatcher: agent,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      signal: options.signal,
    });
    return { statusCode: response.statusCode, text: await response.body.text() };
  }

  async close(): Promise<void> {
    if (this.#loaded) await (await this.#loaded).agent.close();
  }
}

export function createHealthClient(): HealthClient {
  return new HealthClient();
}

/** Asks a node's origin once. Never throws for network problems: they are the answer. */
export async function probeOrigin(
  client: HealthClient,
  config: Config,
  node: NodeConfig,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<OriginHealth> {
  try {
    const response = await client.get(healthUrl(config, node), options);
    const text = response.text;
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: an origin without a release field, reported as release null.
      body = null;
    }
    const release =
      typeof body === 'object' &&
      body !== null &&
      'release' in body &&
      typeof body.release === 'string'
        ? body.release
        : null;
    return { reachable: true, release, statusCode: response.statusCode, error: null };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const code =
      typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
    const message = error instanceof Error ? error.message : String(error);
    return {
      reachable: false,
      release: null,
      statusCode: null,
      error: code ? `${code}: ${message}` : message,
    };
  }
}

export type Confirmation =
  | { readonly status: 'confirmed' }
  | { readonly status: 'no-origin'; readonly error: string }
  | { readonly status: 'mismatch'; readonly served: string | null };

/**
 * Polls /healthz until origin reports `release`. A refused connection means
 * no origin runs there (answered at once); otherwise it waits up to `timeoutMs`.
 */
export async function confirmRelease(
  client: HealthClient,
  config: Config,
  node: NodeConfig,
  release: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<Confirmation> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    // Interrupted (Ctrl-C) after the switch: the release is live, only unconfirmed.
    if (options.signal?.aborted)
      return { status: 'no-origin', error: 'interrupted before origin confirmed' };
    const remaining = Math.max(1, deadline - Date.now());
    const answer = await probeOrigin(client, config, node, {
      timeoutMs: Math.min(remaining, config.dns.health.timeoutMs),
      signal: options.signal,
    }).catch(() => null); // only an abort throws: checked at the top of the loop
    if (answer === null) continue;
    if (answer.reachable && answer.release === release) return { status: 'confirmed' };
    if (!answer.reachable && answer.error?.startsWith('ECONNREFUSED'))
      return { status: 'no-origin', error: answer.error };
    if (Date.now() >= deadline) {
      return answer.reachable
        ? { status: 'mismatch', served: answer.release }
        : { status: 'no-origin', error: answer.error ?? 'no answer' };
    }
    await sleep(CONFIRM_POLL_MS, undefined, { signal: options.signal }).catch(() => undefined); // abort: checked above
  }
}
