import { Agent, request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, NodeConfig } from '@owncdn/core';

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

/** A /healthz answer is a small JSON object; anything longer is cut off here rather than buffered. */
const BODY_MAX_BYTES = 64 * 1024;

/** `http://<ipv4>:<httpPort><origin.healthPath>` */
export function healthUrl(config: Config, node: NodeConfig): string {
  return `http://${node.ipv4}:${node.httpPort}${config.origin.healthPath}`;
}

/**
 * An HTTP client for one push, rollback or status run; close it when done so
 * no socket outlives the command. It is node:http with a keep-alive agent,
 * not undici: a push asks each origin a GET or two, and loading undici cost
 * ~0.2 s of CPU while the uploads competed for the same two cores.
 */
export class HealthClient {
  readonly #agent = new Agent({ keepAlive: true, keepAliveMsecs: 1_000, maxSockets: 4 });

  /** GET `url`: status and body text, within `timeoutMs` for the whole exchange. */
  get(
    url: string,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ statusCode: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { agent: this.#agent, signal: options.signal });
      const timer = setTimeout(() => {
        const error = Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), {
          code: 'ETIMEDOUT',
        });
        req.destroy(error);
      }, options.timeoutMs);
      req.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.once('response', (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let length = 0;
        response.on('data', (chunk: Buffer) => {
          if (length < BODY_MAX_BYTES) chunks.push(chunk);
          length += chunk.length;
        });
        response.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        response.once('end', () => {
          clearTimeout(timer);
          resolve({
            statusCode: response.statusCode ?? 0,
            text: Buffer.concat(chunks).subarray(0, BODY_MAX_BYTES).toString('utf8'),
          });
        });
      });
      req.end();
    });
  }

  close(): Promise<void> {
    this.#agent.destroy();
    return Promise.resolve();
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
