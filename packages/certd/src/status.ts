import type { Config } from '@owncdn/core';
import { servedSerial, sniName } from './deploy.js';
import { renewalTimeByLifetime } from './renew.js';
import { readState } from './state.js';

/** A certificate this close to expiry (7 days, ms) makes `certd status` fail. */
export const STATUS_EXPIRY_MARGIN_MS = 7 * 24 * 3_600_000;

export interface NodeStatus {
  readonly node: string;
  /** Serial the node presents over TLS now, or null (with `error`). */
  readonly serial: string | null;
  readonly upToDate: boolean;
  readonly error: string | null;
}

export interface CertificateStatus {
  readonly name: string;
  readonly serial: string | null;
  readonly notAfter: number | null;
  readonly renewAt: number | null;
  readonly lastError: string | null;
  readonly nodes: readonly NodeStatus[];
}

export interface CertdStatus {
  readonly certificates: readonly CertificateStatus[];
  /** False when a certificate is missing or within 7 days of expiry, or a node serves another one. */
  readonly ok: boolean;
  /** One line per problem, for people. */
  readonly problems: readonly string[];
}

/** Reads certd's state and asks every node over TLS which certificate it serves. Changes nothing. */
export async function certdStatus(
  config: Config,
  options: { now?: number; timeoutMs?: number } = {},
): Promise<CertdStatus> {
  const now = options.now ?? Date.now();
  const timeoutMs = options.timeoutMs ?? 5_000;
  const state = await readState(config.certd.state);
  const problems: string[] = [];
  const certificates = await Promise.all(
    config.certd.certificates.map(async (cert): Promise<CertificateStatus> => {
      const s = state.certificates[cert.name];
      const current = s?.current ?? null;
      const nodes = await Promise.all(
        config.nodes.map(async (node): Promise<NodeStatus> => {
          const served = await servedSerial(node.ipv4, node.httpsPort, sniName(cert), timeoutMs);
          const upToDate = current !== null && served.serial === current.serial;
          if (!upToDate) {
            problems.push(
              served.serial
                ? `${cert.name}: node ${node.name} serves serial ${served.serial}${current ? `, not the current ${current.serial}` : ''}`
                : `${cert.name}: node ${node.name} serves no certificate (${served.error ?? 'unknown'})`,
            );
          }
          return { node: node.name, serial: served.serial, upToDate, error: served.error };
        }),
      );
      if (!current)
        problems.push(
          `${cert.name}: not issued yet${s?.lastError ? ` (last error: ${s.lastError})` : ''}`,
        );
      else if (current.notAfter - now <= STATUS_EXPIRY_MARGIN_MS) {
        problems.push(
          `${cert.name}: expires ${new Date(current.notAfter).toISOString()}, within 7 days`,
        );
      }
      return {
        name: cert.name,
        serial: current?.serial ?? null,
        notAfter: current?.notAfter ?? null,
        renewAt: current ? (s?.renewAt ?? renewalTimeByLifetime(current)) : null,
        lastError: s?.lastError ?? null,
        nodes,
      };
    }),
  );
  return { certificates, ok: problems.length === 0, problems };
}

/** The table `owncdn certd status` prints: name, expiry, next renewal, nodes up to date. */
export function formatStatus(status: CertdStatus): string {
  const rows = [['NAME', 'EXPIRES', 'RENEWS', 'NODES UP TO DATE']];
  for (const c of status.certificates) {
    const fresh = c.nodes.filter((n) => n.upToDate).map((n) => n.node);
    const stale = c.nodes.filter((n) => !n.upToDate).map((n) => `${n.node}✗`);
    rows.push([
      c.name,
      c.notAfter === null ? '-' : iso(c.notAfter),
      c.renewAt === null ? '-' : iso(c.renewAt),
      `${fresh.length}/${c.nodes.length}${fresh.length || stale.length ? ` (${[...fresh, ...stale].join(' ')})` : ''}`,
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const table = rows
    .map((r) =>
      r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
  return `${table}\n${status.problems.map((p) => `problem: ${p}\n`).join('')}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
