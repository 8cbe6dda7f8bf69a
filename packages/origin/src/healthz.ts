import type { Counters } from './counters.js';
import type { Certificate } from './tls.js';

/** What /healthz and /metrics report about one serving process. */
export interface HealthFacts {
  readonly node: string | null;
  readonly release: string | null;
  readonly files: number;
  readonly bytes: number;
  readonly certificates: readonly Certificate[];
  readonly startedMs: number;
  readonly version: string;
}

/** The /healthz document: 200 `ok` once a release is loaded, 503 `no-release` before. */
export function renderHealth(facts: HealthFacts): { status: number; body: string } {
  const loaded = facts.release !== null;
  const body = {
    status: loaded ? 'ok' : 'no-release',
    node: facts.node,
    release: facts.release,
    files: facts.files,
    bytes: facts.bytes,
    certificates: facts.certificates.map((c) => ({
      name: c.name,
      names: c.names,
      notAfter: c.notAfter,
      serial: c.serial,
    })),
    tls: facts.certificates.length > 0,
    uptimeS: Math.floor((Date.now() - facts.startedMs) / 1000),
    version: facts.version,
  };
  return { status: loaded ? 200 : 503, body: `${JSON.stringify(body)}\n` };
}

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

function label(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** Prometheus text format (version 0.0.4) for `counters` (summed over workers) and the process's facts. */
export function renderMetrics(facts: HealthFacts, counters: Counters, workers: number): string {
  const node = facts.node === null ? '' : `node="${label(facts.node)}"`;
  const with_ = (extra: string): string => {
    const all = [node, extra].filter(Boolean).join(',');
    return all ? `{${all}}` : '';
  };
  const lines: string[] = [];
  const metric = (
    name: string,
    type: string,
    help: string,
    samples: readonly [string, number][],
  ): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${with_(labels)} ${value}`);
  };
  metric(
    'owncdn_http_requests_total',
    'counter',
    'Requests answered, by status class of the response.',
    CLASSES.map((c, i) => [`class="${c}"`, counters.responses[i + 1] ?? 0]),
  );
  metric('owncdn_http_response_bytes_total', 'counter', 'Body bytes sent.', [
    ['', counters.bytesOut],
  ]);
  metric('owncdn_origin_reloads_total', 'counter', 'Site reloads, by result.', [
    ['result="ok"', counters.reloads],
    ['result="failed"', counters.reloadFailures],
  ]);
  metric('owncdn_origin_certificate_reloads_total', 'counter', 'Certificate set reloads.', [
    ['', counters.certificateReloads],
  ]);
  metric('owncdn_origin_site_files', 'gauge', 'Files in the served release.', [['', facts.files]]);
  metric(
    'owncdn_origin_cache_bytes',
    'gauge',
    'Bytes held in memory per worker (files and compressed variants).',
    [['', facts.bytes]],
  );
  metric(
    'owncdn_origin_certificate_expiry_timestamp_seconds',
    'gauge',
    'When each certificate expires (Unix time).',
    facts.certificates.map((c) => [
      `name="${label(c.name)}"`,
      Math.floor(Date.parse(c.notAfter) / 1000),
    ]),
  );
  metric('owncdn_origin_workers', 'gauge', 'Serving processes.', [['', workers]]);
  metric('owncdn_origin_uptime_seconds', 'gauge', 'Seconds since start.', [
    ['', Math.floor((Date.now() - facts.startedMs) / 1000)],
  ]);
  return `${lines.join('\n')}\n`;
}
