import { isIPv6 } from 'node:net';
import type { Config, HealthConfig, NodeConfig } from '@owncdn/core';
import { Agent, request } from 'undici';

/**
 * Probes each node's origin health endpoint and keeps its state with
 * rise/fall thresholds. Nodes start "up" (not yet probed) so a fresh server
 * answers at once with every node; the first probe goes out immediately, so
 * a dead node leaves the answers after `fall` probes.
 */

export type NodeState = 'up' | 'down';
export type Override = 'up' | 'down' | null;

export interface ProbeResult {
  readonly ok: boolean;
  /** ISO time the probe finished. */
  readonly at: string;
  readonly durationMs: number;
  /** `HTTP 200`, `HTTP 503`, `connect ECONNREFUSED`, `timeout after 2000 ms`… */
  readonly detail: string;
  /** The origin's JSON body when it sent one (`{ status, node, release }`). */
  readonly body: unknown;
}

/** What the API shows for a node. */
export interface NodeStatus {
  readonly name: string;
  /** The state answers use: the probe state, or the override when set. */
  readonly state: NodeState;
  /** ISO time of the last change of `state`. */
  readonly since: string;
  readonly reason: string;
  readonly override: Override;
  readonly probes: {
    readonly state: NodeState;
    readonly url: string;
    readonly consecutiveOk: number;
    readonly consecutiveFailed: number;
    readonly total: number;
    readonly failed: number;
    readonly last: ProbeResult | null;
  };
}

interface NodeHealth {
  node: NodeConfig;
  url: string;
  probeState: NodeState;
  state: NodeState;
  since: string;
  reason: string;
  override: Override;
  consecutiveOk: number;
  consecutiveFailed: number;
  total: number;
  failed: number;
  last: ProbeResult | null;
  timer: NodeJS.Timeout | null;
  inFlight: AbortController | null;
}

/** Added to undici's own timeouts so the probe's abort (with its clear reason) always fires first. */
const UNDICI_TIMEOUT_SLACK_MS = 1_000;
/** Largest origin /healthz body we read; the rest is discarded. */
const MAX_BODY_BYTES = 16 * 1024;

/** A node entering or leaving the answers, and why. */
export interface StateChange {
  readonly node: string;
  readonly state: NodeState;
  readonly reason: string;
}

export interface HealthCheckerOptions {
  /** Called after a node's effective state changed (probe or override); the caller logs it once it is served. */
  readonly onChange: (change: StateChange) => void;
  /** Called after every probe (tests and debugging). */
  readonly onProbe?: (node: string, result: ProbeResult) => void;
  /** Test knob: replaces dns.health timing (e.g. `{ intervalMs: 50 }`). */
  readonly timing?: Partial<
    Pick<HealthConfig, 'intervalMs' | 'timeoutMs' | 'rise' | 'fall' | 'jitter'>
  >;
}

export class HealthChecker {
  readonly #onChange: (change: StateChange) => void;
  readonly #onProbe: HealthCheckerOptions['onProbe'];
  readonly #timing: HealthCheckerOptions['timing'];
  #health: HealthConfig;
  #nodes = new Map<string, NodeHealth>();
  #agent: Agent;
  #closed = false;

  constructor(config: Config, options: HealthCheckerOptions) {
    this.#onChange = options.onChange;
    this.#onProbe = options.onProbe;
    this.#timing = options.timing;
    this.#health = { ...config.dns.health, ...options.timing };
    this.#agent = createAgent(config);
    this.#apply(config);
  }

  /** Node name → in the answers. */
  serving(): Map<string, boolean> {
    return new Map([...this.#nodes.values()].map((h) => [h.node.name, h.state === 'up']));
  }

  status(): NodeStatus[] {
    return [...this.#nodes.values()].map((h) => ({
      name: h.node.name,
      state: h.state,
      since: h.since,
      reason: h.reason,
      override: h.override,
      probes: {
        state: h.probeState,
        url: h.url,
        consecutiveOk: h.consecutiveOk,
        consecutiveFailed: h.consecutiveFailed,
        total: h.total,
        failed: h.failed,
        last: h.last,
      },
    }));
  }

  /** Forces a node up or down (null: back to its probes). Returns its status, or null for an unknown node. */
  setOverride(name: string, override: Override): NodeStatus | null {
    const h = this.#nodes.get(name);
    if (!h) return null;
    h.override = override;
    this.#settle(
      h,
      override === null
        ? `override cleared, probes say ${h.probeState}`
        : `override: forced ${override}`,
    );
    return this.status().find((s) => s.name === name) ?? null;
  }

  /** Takes a new config: nodes kept by name keep their state and override; new ones start up. */
  reload(config: Config): void {
    this.#health = { ...config.dns.health, ...this.#timing };
    const old = this.#agent;
    this.#agent = createAgent(config);
    void old.close().catch(() => {
      // Closing the old pool only frees sockets; a failure there changes nothing.
    });
    this.#apply(config);
  }

  #apply(config: Config): void {
    const next = new Map<string, NodeHealth>();
    const now = new Date().toISOString();
    for (const node of config.nodes) {
      const url = probeUrl(node, config);
      const previous = this.#nodes.get(node.name);
      if (previous) {
        previous.node = node;
        previous.url = url;
        next.set(node.name, previous);
        continue;
      }
      const h: NodeHealth = {
        node,
        url,
        probeState: 'up',
        state: 'up',
        since: now,
        reason: 'not probed yet',
        override: null,
        consecutiveOk: 0,
        consecutiveFailed: 0,
        total: 0,
        failed: 0,
        last: null,
        timer: null,
        inFlight: null,
      };
      next.set(node.name, h);
    }
    for (const [name, h] of this.#nodes) if (!next.has(name)) stop(h);
    this.#nodes = next;
    for (const h of next.values())
      if (h.timer === null && h.inFlight === null) this.#schedule(h, 0);
  }

  #schedule(h: NodeHealth, delayMs: number): void {
    if (this.#closed) return;
    h.timer = setTimeout(() => {
      h.timer = null;
      void this.#probe(h);
    }, delayMs);
  }

  #nextDelay(): number {
    const { intervalMs, jitter } = this.#health;
    return Math.max(1, Math.round(intervalMs * (1 + jitter * (Math.random() * 2 - 1))));
  }

  async #probe(h: NodeHealth): Promise<void> {
    const controller = new AbortController();
    h.inFlight = controller;
    const started = performance.now();
    const { timeoutMs } = this.#health;
    const timer = setTimeout(() => controller.abort(new ProbeTimeout(timeoutMs)), timeoutMs);
    let ok = false;
    let detail: string;
    let body: unknown = null;
    try {
      const response = await request(h.url, {
        dispatcher: this.#agent,
        signal: controller.signal,
        headers: { 'user-agent': 'owncdn-geodns', accept: 'application/json' },
        // Our own abort at timeoutMs names the reason; undici's timers are only a backstop.
        headersTimeout: timeoutMs + UNDICI_TIMEOUT_SLACK_MS,
        bodyTimeout: timeoutMs + UNDICI_TIMEOUT_SLACK_MS,
      });
      const text = await readLimited(response.body);
      ok = response.statusCode === 200;
      detail = `HTTP ${response.statusCode}`;
      body = parseJson(text);
    } catch (error) {
      detail = describeProbeError(error, controller.signal);
    } finally {
      clearTimeout(timer);
    }
    if (h.inFlight !== controller || this.#closed) return;
    h.inFlight = null;
    h.last = {
      ok,
      at: new Date().toISOString(),
      durationMs: Math.round(performance.now() - started),
      detail,
      body,
    };
    h.total++;
    this.#onProbe?.(h.node.name, h.last);
    if (ok) {
      h.consecutiveOk++;
      h.consecutiveFailed = 0;
      if (h.probeState === 'down' && h.consecutiveOk >= this.#health.rise) {
        h.probeState = 'up';
        this.#settle(h, `${h.consecutiveOk} probes succeeded`);
      }
    } else {
      h.failed++;
      h.consecutiveFailed++;
      h.consecutiveOk = 0;
      if (h.probeState === 'up' && h.consecutiveFailed >= this.#health.fall) {
        h.probeState = 'down';
        this.#settle(h, `${h.consecutiveFailed} probes failed: ${detail}`);
      }
    }
    this.#schedule(h, this.#nextDelay());
  }

  /** Recomputes the effective state; logs and notifies when it changed. */
  #settle(h: NodeHealth, reason: string): void {
    const state = h.override ?? h.probeState;
    if (state === h.state) {
      h.reason = reason;
      return;
    }
    h.state = state;
    h.since = new Date().toISOString();
    h.reason = reason;
    this.#onChange({ node: h.node.name, state, reason });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const h of this.#nodes.values()) stop(h);
    await this.#agent.close();
  }
}

function stop(h: NodeHealth): void {
  if (h.timer) clearTimeout(h.timer);
  h.timer = null;
  h.inFlight?.abort();
  h.inFlight = null;
}

class ProbeTimeout extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`timeout after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** `http://<ipv4>:<port><path>`, or https with the node's HTTPS port. */
export function probeUrl(node: NodeConfig, config: Config): string {
  const { scheme, path } = config.dns.health;
  const port = scheme === 'https' ? node.httpsPort : node.httpPort;
  const host = isIPv6(node.ipv4) ? `[${node.ipv4}]` : node.ipv4;
  return `${scheme}://${host}:${port}${path}`;
}

/**
 * One connection pool for all probes. HTTPS probes go to an IP address, so
 * the certificate cannot be checked against it: SNI carries site.domain so
 * origin picks the right certificate, and verification is off.
 */
function createAgent(config: Config): Agent {
  return new Agent({
    connect: { rejectUnauthorized: false, servername: config.site.domain },
    keepAliveTimeout: 1_000,
    connections: 2,
  });
}

async function readLimited(body: AsyncIterable<Buffer | string>): Promise<string> {
  let text = '';
  for await (const chunk of body) {
    if (text.length < MAX_BODY_BYTES) text += chunk.toString();
  }
  return text.slice(0, MAX_BODY_BYTES);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not JSON (an origin that is not owncdn, or a proxy page): the status code is what counts.
    return null;
  }
}

/** `connect ECONNREFUSED`, `timeout after 2000 ms`, `socket hang up (UND_ERR_SOCKET)`… */
export function describeProbeError(error: unknown, signal: AbortSignal): string {
  if (signal.aborted && signal.reason instanceof ProbeTimeout) return signal.reason.message;
  if (error instanceof Error) {
    const e = error as NodeJS.ErrnoException & { cause?: unknown };
    if (e.syscall && e.code) return `${e.syscall} ${e.code}`;
    if (e.cause instanceof Error) {
      const cause = e.cause as NodeJS.ErrnoException;
      if (cause.syscall && cause.code) return `${cause.syscall} ${cause.code}`;
    }
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT')
      return `timeout (${e.code})`;
    return e.code ? `${e.message} (${e.code})` : e.message;
  }
  return String(error);
}
