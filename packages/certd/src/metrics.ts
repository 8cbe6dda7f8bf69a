import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OwncdnError } from '@owncdn/core';

/** Counters and gauges certd exposes on /metrics (Prometheus text format). */
export interface Metrics {
  passes: number;
  issued: number;
  /** Failed attempts to obtain a certificate. */
  failures: number;
  /** Node deploys left behind at the end of a pass. */
  deployFailures: number;
  /** Certificate name → notAfter (epoch ms; 0 = none yet). */
  readonly notAfter: Map<string, number>;
}

export function createMetrics(): Metrics {
  return { passes: 0, issued: 0, failures: 0, deployFailures: 0, notAfter: new Map() };
}

/** Renders the metrics in the Prometheus text exposition format. */
export function formatMetrics(metrics: Metrics): string {
  const lines = [
    '# HELP owncdn_certd_passes_total Passes over the configured certificates.',
    '# TYPE owncdn_certd_passes_total counter',
    `owncdn_certd_passes_total ${metrics.passes}`,
    '# HELP owncdn_certd_issued_total Certificates obtained.',
    '# TYPE owncdn_certd_issued_total counter',
    `owncdn_certd_issued_total ${metrics.issued}`,
    '# HELP owncdn_certd_failures_total Failed attempts to obtain a certificate.',
    '# TYPE owncdn_certd_failures_total counter',
    `owncdn_certd_failures_total ${metrics.failures}`,
    '# HELP owncdn_certd_deploy_failures_total Nodes left without the current certificate at the end of a pass.',
    '# TYPE owncdn_certd_deploy_failures_total counter',
    `owncdn_certd_deploy_failures_total ${metrics.deployFailures}`,
    '# HELP owncdn_certd_certificate_expiry_seconds notAfter of the current certificate, Unix seconds.',
    '# TYPE owncdn_certd_certificate_expiry_seconds gauge',
    ...[...metrics.notAfter].map(
      ([name, ms]) =>
        `owncdn_certd_certificate_expiry_seconds{name="${name}"} ${Math.floor(ms / 1000)}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** Serves GET /metrics on `hostPort` (e.g. `127.0.0.1:9109`); resolves once listening. */
export async function startMetricsServer(
  hostPort: string,
  metrics: Metrics,
): Promise<{ server: Server; address: AddressInfo }> {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(at + 1));
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
        .end(formatMetrics(metrics));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new OwncdnError(
          'OWNCDN_ACME_FAILED',
          `certd cannot listen for /metrics on ${hostPort}: ${error.message}`,
          { cause: error },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new OwncdnError('OWNCDN_INTERNAL', 'metrics server has no TCP address');
  return { server, address };
}
