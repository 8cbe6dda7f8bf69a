import { ACME_CHALLENGE_PREFIX, NODE_LAYOUT, OwncdnError } from '@owncdn/core';
import type { NodeConfig } from '@owncdn/core';
import { request } from 'undici';
import { describeError, retryCheck } from './context.js';
import type { CertdContext } from './context.js';

/** One challenge to answer: the identifier and what the CA will ask for. */
export interface PendingChallenge {
  readonly name: string;
  readonly token: string;
  /** HTTP-01: `<token>.<thumbprint>`; DNS-01: base64url(SHA-256 of that). */
  readonly keyAuthorization: string;
}

/** Makes every node able to answer, and checks each one does, before the CA is told. */
export interface ChallengeSolver {
  prepare(challenges: readonly PendingChallenge[]): Promise<void>;
  cleanup(challenges: readonly PendingChallenge[]): Promise<void>;
}

/**
 * HTTP-01 on every node. Stateless mode: the account thumbprint is pushed to
 * `<root>/acme-thumbprint` (origin answers any token with it), so nothing is
 * pushed per order. Per-token mode: the key authorisation goes to
 * `<root>/acme-challenge/<token>` on every node and is removed afterwards.
 * Either way each node must serve every token (asked at its own address with
 * the right Host) before the CA is told: the CA validates from several
 * places, each of which may reach a different node through GeoDNS.
 */
export function createHttp01Solver(ctx: CertdContext, thumbprint: string): ChallengeSolver {
  const nodes = ctx.config.nodes;
  const perToken = ctx.config.certd.http01Mode === 'per-token';
  return {
    async prepare(challenges) {
      await forEveryNode(nodes, 'prepare HTTP-01', async (node) => {
        const transport = ctx.transport(node);
        if (perToken) {
          for (const c of challenges) {
            await transport.putFile(
              `${NODE_LAYOUT.acmeChallenge}/${c.token}`,
              c.keyAuthorization,
              0o644,
            );
          }
        } else if (!(await servesAll(node, challenges, ctx.timings.requestTimeoutMs))) {
          // Stateless: the thumbprint only changes with the account key, so it is pushed once, not per order.
          await transport.putFile(NODE_LAYOUT.acmeThumbprint, thumbprint, 0o644);
          ctx.log.info({ node: node.name }, 'account thumbprint pushed for stateless HTTP-01');
        }
      });
      await forEveryNode(nodes, 'check HTTP-01', async (node) => {
        for (const c of challenges) {
          for (const address of nodeAddresses(node)) {
            const problem = await retryCheck(
              () => checkToken(address, node.httpPort, c, ctx.timings.requestTimeoutMs),
              ctx.timings.checkAttempts,
              ctx.timings.checkIntervalMs,
              ctx.signal,
            );
            if (problem) throw new Error(`${address}:${node.httpPort} ${problem}`);
          }
        }
        ctx.log.debug(
          { node: node.name, tokens: challenges.length },
          'node serves the HTTP-01 tokens',
        );
      });
    },
    async cleanup(challenges) {
      if (!perToken) return;
      await Promise.all(
        nodes.map(async (node) => {
          try {
            await ctx
              .transport(node)
              .remove(challenges.map((c) => `${NODE_LAYOUT.acmeChallenge}/${c.token}`));
          } catch (error) {
            // A leftover token is harmless (it only proves a finished challenge); the next order cleans nothing up either way.
            ctx.log.warn(
              { node: node.name, err: describeError(error) },
              'could not remove HTTP-01 tokens',
            );
          }
        }),
      );
    },
  };
}

/** Runs `fn` on every node at once; if any fails, throws one error naming each failed node. */
export async function forEveryNode(
  nodes: readonly NodeConfig[],
  what: string,
  fn: (node: NodeConfig) => Promise<void>,
): Promise<void> {
  const results = await Promise.allSettled(nodes.map(fn));
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`${nodes[i]?.name ?? i}: ${describeError(r.reason)}`] : [],
  );
  if (failed.length > 0) {
    throw new OwncdnError(
      'OWNCDN_ACME_CHALLENGE_FAILED',
      `${what} failed on ${failed.join('; ')} (the CA was not asked to validate)`,
      {
        retryable: true,
      },
    );
  }
}

/** One quick look: does the node already answer every token (on every address)? */
async function servesAll(
  node: NodeConfig,
  challenges: readonly PendingChallenge[],
  timeoutMs: number,
): Promise<boolean> {
  for (const c of challenges) {
    for (const address of nodeAddresses(node)) {
      if ((await checkToken(address, node.httpPort, c, timeoutMs)) !== null) return false;
    }
  }
  return true;
}

function nodeAddresses(node: NodeConfig): string[] {
  return node.ipv6 ? [node.ipv4, node.ipv6] : [node.ipv4];
}

async function checkToken(
  address: string,
  port: number,
  c: PendingChallenge,
  timeoutMs: number,
): Promise<string | null> {
  const host = address.includes(':') ? `[${address}]` : address;
  try {
    const response = await request(`http://${host}:${port}${ACME_CHALLENGE_PREFIX}${c.token}`, {
      headers: { host: c.name },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.body.text()).trim();
    if (response.statusCode !== 200)
      return `answers ${response.statusCode} for the token of ${c.name}`;
    if (body !== c.keyAuthorization) return `serves a different key authorisation for ${c.name}`;
    return null;
  } catch (error) {
    return `is unreachable for the token of ${c.name}: ${describeError(error)}`;
  }
}
