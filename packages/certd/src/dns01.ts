import { Resolver } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { OwncdnError } from '@owncdn/core';
import type { NameserverConfig } from '@owncdn/core';
import { request } from 'undici';
import { describeError, retryCheck } from './context.js';
import type { CertdContext } from './context.js';
import type { ChallengeSolver, PendingChallenge } from './http01.js';

/** RFC 8555 §8.4: the TXT record lives at `_acme-challenge.<name>` (the `*.` of a wildcard dropped). */
export function txtName(identifier: string): string {
  return `_acme-challenge.${identifier.replace(/^\*\./, '')}`;
}

/**
 * DNS-01 through the API of every geodns in `dns.nameservers`: set the TXT
 * on each, check each nameserver answers it, and only then tell the CA;
 * delete the records afterwards. Any nameserver that cannot be prepared
 * fails the attempt, naming it.
 */
export function createDns01Solver(ctx: CertdContext): ChallengeSolver {
  const nameservers = ctx.config.dns.nameservers;
  let token: string | undefined;
  const apiToken = async () => {
    const file = ctx.config.dns.api.tokenFile;
    if (!file)
      throw new OwncdnError(
        'OWNCDN_DNS_API_FAILED',
        'DNS-01 needs dns.api.tokenFile (the bearer token of the geodns API)',
      );
    try {
      return (token ??= (await readFile(file, 'utf8')).trim());
    } catch (error) {
      throw new OwncdnError(
        'OWNCDN_DNS_API_FAILED',
        `cannot read the geodns API token file ${file}`,
        { cause: error },
      );
    }
  };
  const call = async (ns: NameserverConfig, method: 'PUT' | 'DELETE', c: PendingChallenge) => {
    if (!ns.api) throw new Error('has no api URL in dns.nameservers');
    const url = `${ns.api.replace(/\/$/, '')}/v1/txt/${txtName(c.name)}`;
    const response = await request(url, {
      method,
      headers: { authorization: `Bearer ${await apiToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ value: c.keyAuthorization }),
      signal: AbortSignal.timeout(ctx.timings.requestTimeoutMs),
    });
    const text = await response.body.text();
    if (response.statusCode !== 204 && response.statusCode !== 200) {
      throw new Error(
        `${method} ${url} answered ${response.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`,
      );
    }
  };
  return {
    async prepare(challenges) {
      await forEveryNameserver(nameservers, 'set the DNS-01 TXT', async (ns) => {
        for (const c of challenges) await call(ns, 'PUT', c);
      });
      await forEveryNameserver(nameservers, 'check the DNS-01 TXT', async (ns) => {
        const address = ns.ipv4 ?? ns.ipv6;
        if (!address) throw new Error('has no address to ask');
        for (const c of challenges) {
          const problem = await retryCheck(
            () => checkTxt(address, ctx.dnsPort, c, ctx.timings.requestTimeoutMs),
            ctx.timings.checkAttempts,
            ctx.timings.checkIntervalMs,
            ctx.signal,
          );
          if (problem) throw new Error(problem);
        }
      });
    },
    async cleanup(challenges) {
      await Promise.all(
        nameservers.map(async (ns) => {
          for (const c of challenges) {
            try {
              await call(ns, 'DELETE', c);
            } catch (error) {
              // geodns expires API records after dns.api.txtLifetime, so a leftover goes away by itself.
              ctx.log.warn(
                { nameserver: ns.name, err: describeError(error) },
                'could not delete a DNS-01 TXT record',
              );
            }
          }
        }),
      );
    },
  };
}

async function forEveryNameserver(
  nameservers: readonly NameserverConfig[],
  what: string,
  fn: (ns: NameserverConfig) => Promise<void>,
): Promise<void> {
  const results = await Promise.allSettled(nameservers.map(fn));
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`${nameservers[i]?.name ?? i}: ${describeError(r.reason)}`] : [],
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

async function checkTxt(
  address: string,
  port: number,
  c: PendingChallenge,
  timeoutMs: number,
): Promise<string | null> {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`]);
  const name = txtName(c.name);
  try {
    const records = await resolver.resolveTxt(name);
    return records.some((chunks) => chunks.join('') === c.keyAuthorization)
      ? null
      : `does not answer the TXT for ${name} yet`;
  } catch (error) {
    return `does not answer the TXT for ${name}: ${describeError(error)}`;
  } finally {
    resolver.cancel();
  }
}
