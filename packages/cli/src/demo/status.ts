import { request } from 'undici';

/** `value[key]` when `value` is an object and that field is a string. */
export function stringField(value: unknown, key: string): string | undefined {
  if (value === null || typeof value !== 'object' || !(key in value)) return undefined;
  const field: unknown = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? field : undefined;
}

/** `value[key]` when `value` is an object and that field is an array. */
export function arrayField(value: unknown, key: string): unknown[] | undefined {
  if (value === null || typeof value !== 'object' || !(key in value)) return undefined;
  const field: unknown = (value as Record<string, unknown>)[key];
  return Array.isArray(field) ? field : undefined;
}

/** Parses JSON text, or undefined when it is not JSON. */
export function parseJson(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not JSON: the caller treats it like a missing answer.
    return undefined;
  }
}

/** Sums every sample of the Prometheus metrics whose name matches `name` (labels ignored). */
export function sumMetric(text: string, name: RegExp): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const space = line.lastIndexOf(' ');
    const brace = line.indexOf('{');
    const metric = line.slice(0, brace >= 0 ? brace : line.indexOf(' '));
    if (name.test(metric)) total += Number(line.slice(space + 1)) || 0;
  }
  return total;
}

async function getText(url: string, headers: Record<string, string> = {}): Promise<string | null> {
  try {
    const response = await request(url, { headers, headersTimeout: 1_000, bodyTimeout: 1_000 });
    const body = await response.body.text();
    return response.statusCode === 200 ? body : null;
  } catch {
    // A node or geodns that does not answer is shown as down; that is the point of the line.
    return null;
  }
}

export interface StatusSources {
  readonly apiUrl: string;
  readonly token: string;
  readonly origins: readonly {
    readonly name: string;
    readonly url: string;
    readonly pid: number;
  }[];
}

export interface StatusSample {
  readonly at: number;
  readonly nodes: readonly { readonly name: string; readonly state: string }[];
  readonly queries: number;
  readonly requests: number;
  readonly releases: readonly string[];
}

/** One look at geodns and every origin: node states, counters, releases served. */
export async function sampleStatus(
  sources: StatusSources,
  metricsPath = '/metrics',
  healthPath = '/healthz',
): Promise<StatusSample> {
  const auth = { authorization: `Bearer ${sources.token}` };
  const [nodesText, dnsMetrics, ...origins] = await Promise.all([
    getText(`${sources.apiUrl}/v1/nodes`, auth),
    getText(`${sources.apiUrl}/metrics`, auth),
    ...sources.origins.map(async (o) => ({
      metrics: await getText(`${o.url}${metricsPath}`),
      health: await getText(`${o.url}${healthPath}`),
    })),
  ]);
  const parsed = parseJson(nodesText);
  const list = Array.isArray(parsed) ? parsed : (arrayField(parsed, 'nodes') ?? []);
  const nodes = list.flatMap((n: unknown) => {
    const name = stringField(n, 'name');
    const state = stringField(n, 'state');
    return name !== undefined && state !== undefined ? [{ name, state }] : [];
  });
  const releases = origins.map((o) => stringField(parseJson(o.health), 'release') ?? '-');
  return {
    at: Date.now(),
    nodes,
    queries: dnsMetrics ? sumMetric(dnsMetrics, /^owncdn_dns_queries_total$/) : 0,
    requests: origins.reduce(
      (sum, o) => sum + (o.metrics ? sumMetric(o.metrics, /^owncdn_http_requests_total$/) : 0),
      0,
    ),
    releases,
  };
}

/** The live line: `au ↑ us ↑ fr ↓ · 12 q/s · 30 req/s · release 2026…-ab12cd (all nodes)`. */
export function formatStatus(previous: StatusSample | null, current: StatusSample): string {
  const seconds = previous ? Math.max(0.001, (current.at - previous.at) / 1000) : 1;
  const qps = previous
    ? Math.max(0, Math.round((current.queries - previous.queries) / seconds))
    : 0;
  const rps = previous
    ? Math.max(0, Math.round((current.requests - previous.requests) / seconds))
    : 0;
  const nodes =
    current.nodes.map((n) => `${n.name} ${n.state === 'up' ? '↑' : '↓'}`).join(' ') ||
    'geodns not answering';
  const distinct = [...new Set(current.releases)];
  const release =
    distinct.length === 1
      ? `release ${distinct[0] ?? '-'} (all nodes)`
      : `releases ${current.releases.join(' / ')}`;
  return `${nodes} · ${qps} q/s · ${rps} req/s · ${release} · Ctrl-C to stop`;
}
