import { CONTINENTS } from '@owncdn/core';
import { MALFORMED_REASONS, TYPE } from './wire.js';
import type { MalformedReason } from './wire.js';

/**
 * Counters kept on the hot path as plain typed arrays (an increment, no
 * labels to hash), summed across workers and rendered for Prometheus.
 */

/** QTYPEs counted by name; everything else is `OTHER`. */
const TRACKED_TYPES = [
  'A',
  'AAAA',
  'NS',
  'CNAME',
  'SOA',
  'MX',
  'TXT',
  'SRV',
  'CAA',
  'ANY',
  'OTHER',
] as const;
const TYPE_INDEX = new Map<number, number>(
  TRACKED_TYPES.slice(0, -1).map((name, i) => [TYPE[name as keyof typeof TYPE], i]),
);
const OTHER_TYPE = TRACKED_TYPES.length - 1;
const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  16: 'BADVERS',
};
/** Extended RCODEs go up to 23 in practice (BADCOOKIE); 24 columns cover every code we send. */
const RCODES = 24;
const CONTINENT_LABELS = [...CONTINENTS, 'unknown'];

/** The counters of one process, in a form that crosses IPC (plain arrays). */
export interface MetricsData {
  queries: number[];
  continents: number[];
  malformed: number[];
  truncated: number;
  rrlDropped: number;
  rrlSlipped: number;
  tcpConnections: number;
}

export class Metrics {
  readonly queries = new Float64Array(TRACKED_TYPES.length * RCODES);
  readonly continents = new Float64Array(CONTINENT_LABELS.length);
  readonly malformed = new Float64Array(MALFORMED_REASONS.length);
  truncated = 0;
  rrlDropped = 0;
  rrlSlipped = 0;
  tcpConnections = 0;

  /** Counts an answered query by QTYPE and RCODE. */
  countQuery(qtype: number, rcode: number): void {
    const t = TYPE_INDEX.get(qtype) ?? OTHER_TYPE;
    this.queries[t * RCODES + (rcode < RCODES ? rcode : 0)]! += 1;
  }

  countMalformed(reason: MalformedReason | null): void {
    const i = reason === null ? -1 : MALFORMED_REASONS.indexOf(reason);
    if (i >= 0) this.malformed[i]! += 1;
  }

  toData(): MetricsData {
    return {
      queries: Array.from(this.queries),
      continents: Array.from(this.continents),
      malformed: Array.from(this.malformed),
      truncated: this.truncated,
      rrlDropped: this.rrlDropped,
      rrlSlipped: this.rrlSlipped,
      tcpConnections: this.tcpConnections,
    };
  }
}

/** Adds counters from several processes. */
export function sumMetrics(parts: readonly MetricsData[]): MetricsData {
  const add = (arrays: number[][]) => arrays.reduce((sum, a) => sum.map((v, i) => v + (a[i] ?? 0)));
  const total = (key: 'truncated' | 'rrlDropped' | 'rrlSlipped' | 'tcpConnections') =>
    parts.reduce((s, p) => s + p[key], 0);
  return {
    queries: add(parts.map((p) => p.queries)),
    continents: add(parts.map((p) => p.continents)),
    malformed: add(parts.map((p) => p.malformed)),
    truncated: total('truncated'),
    rrlDropped: total('rrlDropped'),
    rrlSlipped: total('rrlSlipped'),
    tcpConnections: total('tcpConnections'),
  };
}

/** What /metrics shows besides the query counters. */
export interface MetricsExtras {
  readonly nodes: readonly {
    readonly name: string;
    readonly up: boolean;
    readonly override: 'up' | 'down' | null;
  }[];
  readonly serial: number;
  readonly reloads: number;
  readonly reloadFailures: number;
  readonly txtRecords: number;
  readonly workers: number;
}

/** Renders Prometheus text exposition format 0.0.4. */
export function renderMetrics(data: MetricsData, extras: MetricsExtras): string {
  const lines: string[] = [];
  const head = (name: string, type: string, help: string) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  head('owncdn_geodns_queries_total', 'counter', 'DNS queries answered, by QTYPE and RCODE.');
  TRACKED_TYPES.forEach((type, t) => {
    for (let rcode = 0; rcode < RCODES; rcode++) {
      const value = data.queries[t * RCODES + rcode] ?? 0;
      if (value > 0)
        lines.push(
          `owncdn_geodns_queries_total{qtype="${type}",rcode="${RCODE_NAMES[rcode] ?? String(rcode)}"} ${value}`,
        );
    }
  });
  head(
    'owncdn_geodns_geo_queries_total',
    'counter',
    'Geo-routed answers, by the client continent (ECS address or source).',
  );
  CONTINENT_LABELS.forEach((c, i) =>
    lines.push(`owncdn_geodns_geo_queries_total{continent="${c}"} ${data.continents[i] ?? 0}`),
  );
  head(
    'owncdn_geodns_malformed_total',
    'counter',
    'Malformed packets (answered FORMERR or dropped), by reason.',
  );
  MALFORMED_REASONS.forEach((r, i) =>
    lines.push(`owncdn_geodns_malformed_total{reason="${r}"} ${data.malformed[i] ?? 0}`),
  );
  head(
    'owncdn_geodns_truncated_total',
    'counter',
    'UDP answers sent truncated (TC) because they did not fit.',
  );
  lines.push(`owncdn_geodns_truncated_total ${data.truncated}`);
  head('owncdn_geodns_rrl_total', 'counter', 'Responses held back by response rate limiting.');
  lines.push(
    `owncdn_geodns_rrl_total{action="drop"} ${data.rrlDropped}`,
    `owncdn_geodns_rrl_total{action="slip"} ${data.rrlSlipped}`,
  );
  head('owncdn_geodns_tcp_connections_total', 'counter', 'TCP connections accepted.');
  lines.push(`owncdn_geodns_tcp_connections_total ${data.tcpConnections}`);
  head(
    'owncdn_geodns_node_up',
    'gauge',
    'Whether a node is in the answers (1) or not (0), overrides applied.',
  );
  for (const n of extras.nodes)
    lines.push(
      `owncdn_geodns_node_up{node="${n.name}",override="${n.override ?? 'none'}"} ${n.up ? 1 : 0}`,
    );
  head('owncdn_geodns_soa_serial', 'gauge', 'SOA serial of the data being served.');
  lines.push(`owncdn_geodns_soa_serial ${extras.serial}`);
  head(
    'owncdn_geodns_reloads_total',
    'counter',
    'Configuration and geo database reloads, by result.',
  );
  lines.push(
    `owncdn_geodns_reloads_total{result="ok"} ${extras.reloads}`,
    `owncdn_geodns_reloads_total{result="failed"} ${extras.reloadFailures}`,
  );
  head('owncdn_geodns_txt_records', 'gauge', 'DNS-01 TXT values currently set through the API.');
  lines.push(`owncdn_geodns_txt_records ${extras.txtRecords}`);
  head('owncdn_geodns_workers', 'gauge', 'Processes answering queries.');
  lines.push(`owncdn_geodns_workers ${extras.workers}`);
  return `${lines.join('\n')}\n`;
}
