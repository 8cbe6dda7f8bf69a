import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { NODE_LAYOUT } from '@owncdn/core';
import type { CertificateConfig, NodeConfig } from '@owncdn/core';
import { describeError, retryCheck } from './context.js';
import type { CertdContext } from './context.js';
import { normaliseSerial } from './keys.js';
import { certificateFiles } from './order.js';
import type { CertificateState, NodeDeployState } from './state.js';

/** True when `node` is not known to serve the current certificate. */
export function needsDeploy(state: CertificateState, node: NodeConfig): boolean {
  return state.current !== null && state.nodes[node.name]?.serial !== state.current.serial;
}

/**
 * Pushes the current certificate to every node that does not serve it yet,
 * in parallel: fullchain.pem (0644) and privkey.pem (0600) as one atomic set
 * under `<root>/certs/<name>/`, then the node's post-deploy command if any,
 * then a TLS handshake to the node's address with SNI until it serves the new
 * serial. A node that fails keeps its old state and is retried next pass; the
 * others are updated regardless. Never orders a certificate.
 */
export async function deployCertificate(
  ctx: CertdContext,
  cert: CertificateConfig,
  state: CertificateState,
  save: (update: (s: CertificateState) => CertificateState) => Promise<CertificateState>,
): Promise<CertificateState> {
  const current = state.current;
  if (!current) return state;
  const targets = ctx.config.nodes.filter((node) => needsDeploy(state, node));
  if (targets.length === 0) return state;
  const files = certificateFiles(ctx.config.certd.state, cert.name, current.serial);
  const [fullchain, privkey] = await Promise.all([
    readFile(files.fullchain, 'utf8'),
    readFile(files.privkey, 'utf8'),
  ]);
  let latest = state;
  await Promise.all(
    targets.map(async (node) => {
      let result: NodeDeployState;
      try {
        const transport = ctx.transport(node);
        await transport.putFileSet(`${NODE_LAYOUT.certs}/${cert.name}`, [
          { name: NODE_LAYOUT.fullchain, data: fullchain, mode: 0o644 },
          { name: NODE_LAYOUT.privkey, data: privkey, mode: 0o600 },
        ]);
        if (node.postDeploy) {
          ctx.log.info({ cert: cert.name, node: node.name }, 'running post-deploy command');
          await transport.run(node.postDeploy, { timeoutMs: ctx.timings.requestTimeoutMs });
        }
        const problem = await retryCheck(
          () =>
            checkServedSerial(node, sniName(cert), current.serial, ctx.timings.requestTimeoutMs),
          ctx.timings.checkAttempts,
          ctx.timings.checkIntervalMs,
          ctx.signal,
        );
        if (problem) throw new Error(problem);
        result = { serial: current.serial, verifiedAt: ctx.now(), error: null };
        ctx.log.info(
          { cert: cert.name, node: node.name, serial: current.serial },
          'certificate live on node',
        );
      } catch (error) {
        const previous = latest.nodes[node.name];
        result = {
          serial: previous?.serial ?? null,
          verifiedAt: previous?.verifiedAt ?? null,
          error: describeError(error),
        };
        ctx.log.warn(
          { cert: cert.name, node: node.name, err: describeError(error) },
          'deploy to node failed; retrying next pass',
        );
      }
      latest = await save((s) => ({ ...s, nodes: { ...s.nodes, [node.name]: result } }));
    }),
  );
  return latest;
}

/** A name to send as SNI: the first non-wildcard name, or a label under the wildcard. */
export function sniName(cert: Pick<CertificateConfig, 'names'>): string {
  const plain = cert.names.find((n) => !n.startsWith('*.'));
  return plain ?? `www.${(cert.names[0] ?? 'localhost').slice(2)}`;
}

/** Null when `node` serves `serial` for `servername` over TLS, else what it serves instead. */
export async function checkServedSerial(
  node: NodeConfig,
  servername: string,
  serial: string,
  timeoutMs: number,
): Promise<string | null> {
  const served = await servedSerial(node.ipv4, node.httpsPort, servername, timeoutMs);
  if (served.serial === serial) return null;
  return served.serial
    ? `${node.ipv4}:${node.httpsPort} still serves serial ${served.serial} for ${servername} (expected ${serial})`
    : `${node.ipv4}:${node.httpsPort} TLS handshake for ${servername} failed: ${served.error ?? 'no certificate'}`;
}

/** The serial of the leaf a TLS server presents for `servername` (no trust check: only the serial matters). */
export function servedSerial(
  host: string,
  port: number,
  servername: string,
  timeoutMs: number,
): Promise<{ serial: string | null; notAfter: number | null; error: string | null }> {
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      servername,
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    const finish = (value: {
      serial: string | null;
      notAfter: number | null;
      error: string | null;
    }) => {
      socket.destroy();
      resolve(value);
    };
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      if (!peer.serialNumber)
        return finish({ serial: null, notAfter: null, error: 'no certificate presented' });
      finish({
        serial: normaliseSerial(peer.serialNumber),
        notAfter: Date.parse(peer.valid_to),
        error: null,
      });
    });
    socket.once('timeout', () =>
      finish({ serial: null, notAfter: null, error: `no TLS answer within ${timeoutMs} ms` }),
    );
    socket.once('error', (error: Error) =>
      finish({ serial: null, notAfter: null, error: error.message }),
    );
  });
}
