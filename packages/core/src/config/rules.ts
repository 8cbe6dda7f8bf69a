import { isIPv4, isIPv6 } from 'node:net';
import { parseDuration } from '../duration.js';
import { isHostname, quote } from './schema.js';
import type { RawConfig } from './schema.js';
import { CONTINENTS } from './types.js';

/** A problem found by a rule: the path into the file and what is wrong. */
export interface RuleIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

type Rule = (
  config: RawConfig,
  report: (path: (string | number)[], message: string) => void,
) => void;

/** `www.example.org` is inside `example.org`; so is `example.org` itself. */
export function isInZone(name: string, zone: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const z = zone.toLowerCase().replace(/\.$/, '');
  return n === z || n.endsWith(`.${z}`);
}

/** Resolves a record name as written (`@`, `www`, `www.example.org.`) to a lower-case absolute name. */
export function absoluteName(name: string, zone: string): string {
  if (name === '@') return zone.toLowerCase();
  if (name.endsWith('.')) return name.slice(0, -1).toLowerCase();
  const lower = name.toLowerCase();
  return isInZone(lower, zone) ? lower : `${lower}.${zone.toLowerCase()}`;
}

const uniqueNodeNames: Rule = (config, report) => {
  const seen = new Map<string, number>();
  config.nodes.forEach((node, i) => {
    const first = seen.get(node.name);
    if (first !== undefined)
      report(
        ['nodes', i, 'name'],
        `${quote(node.name)} is already the name of nodes[${first}] (expected unique node names)`,
      );
    else seen.set(node.name, i);
  });
};

const uniqueAddresses: Rule = (config, report) => {
  const seen = new Map<string, string>();
  config.nodes.forEach((node, i) => {
    for (const key of ['ipv4', 'ipv6'] as const) {
      const address = node[key];
      if (!address) continue;
      const owner = seen.get(address);
      if (owner !== undefined)
        report(
          ['nodes', i, key],
          `${address} is already the address of node ${owner} (expected one address per node)`,
        );
      else seen.set(address, node.name);
    }
  });
};

const exactlyOneDefault: Rule = (config, report) => {
  const defaults = config.nodes.flatMap((node, i) => (node.default ? [i] : []));
  if (defaults.length === 0) {
    report(
      ['nodes'],
      'no node is the default (expected exactly one node with default: true, which answers when no other node matches)',
    );
  }
  for (const i of defaults.slice(1)) {
    const first = defaults[0] ?? 0;
    report(
      ['nodes', i, 'default'],
      `nodes[${first}] (${config.nodes[first]?.name ?? '?'}) is already the default (expected exactly one default node)`,
    );
  }
};

const continentsCovered: Rule = (config, report) => {
  // With a default node every continent has somewhere to go; without one the
  // uncovered continents are the real problem, so name them.
  if (config.nodes.some((node) => node.default)) return;
  const covered = new Set(config.nodes.flatMap((node) => node.continents));
  const missing = CONTINENTS.filter((code) => !covered.has(code));
  if (missing.length > 0)
    report(
      ['nodes'],
      `continents ${missing.join(' ')} are served by no node and there is no default node to fall back to`,
    );
};

const duplicateContinents: Rule = (config, report) => {
  config.nodes.forEach((node, i) => {
    const seen = new Set<string>();
    node.continents.forEach((code, j) => {
      if (seen.has(code)) report(['nodes', i, 'continents', j], `${code} is listed twice`);
      seen.add(code);
    });
  });
};

const nodeRoots: Rule = (config, report) => {
  const roots = new Map<string, string>();
  config.nodes.forEach((node, i) => {
    if (node.ssh) {
      if (node.root !== undefined && !node.root.startsWith('/')) {
        report(
          ['nodes', i, 'root'],
          `${quote(node.root)} is relative (expected an absolute path on the node, e.g. /var/lib/owncdn)`,
        );
      }
      return;
    }
    if (node.root === undefined) {
      report(
        ['nodes', i],
        'a local node (no ssh) needs a root (expected root: a directory on this machine)',
      );
      return;
    }
    const owner = roots.get(node.root);
    if (owner !== undefined)
      report(
        ['nodes', i, 'root'],
        `${quote(node.root)} is already the root of node ${owner} (expected a directory per local node)`,
      );
    roots.set(node.root, node.name);
  });
};

const namesInZone: Rule = (config, report) => {
  const zone = config.site.domain;
  (config.site.names ?? []).forEach((name, i) => {
    if (!isInZone(name, zone))
      report(
        ['site', 'names', i],
        `${quote(name)} is outside the zone ${zone} (expected ${zone} or a name ending in .${zone})`,
      );
  });
};

const nameservers: Rule = (config, report) => {
  const zone = config.site.domain;
  config.dns.nameservers.forEach((ns, i) => {
    if (isInZone(ns.name, zone) && !ns.ipv4 && !ns.ipv6) {
      report(
        ['dns', 'nameservers', i],
        `${ns.name} is inside the zone, so it needs glue (expected ipv4 and/or ipv6)`,
      );
    }
  });
};

const RECORD_VALUE_CHECKS: Readonly<
  Record<string, { test: (v: string) => boolean; expected: string }>
> = {
  A: { test: isIPv4, expected: 'an IPv4 address' },
  AAAA: { test: isIPv6, expected: 'an IPv6 address' },
  CNAME: { test: (v) => isHostname(v), expected: 'a host name' },
  NS: { test: (v) => isHostname(v), expected: 'a host name' },
  MX: {
    test: (v) => /^\d{1,5}\s+\S+$/.test(v) && isHostname(v.split(/\s+/)[1] ?? ''),
    expected: 'preference and host, e.g. "10 mail.example.org."',
  },
  SRV: {
    test: (v) =>
      /^\d{1,5}\s+\d{1,5}\s+\d{1,5}\s+\S+$/.test(v) && isHostname(v.split(/\s+/)[3] ?? ''),
    expected: 'priority weight port target, e.g. "10 5 5060 sip.example.org."',
  },
  CAA: {
    test: (v) => /^\d{1,3}\s+[a-z0-9]+\s+"?[^"]*"?$/i.test(v),
    expected: 'flags tag value, e.g. 0 issue "letsencrypt.org"',
  },
  TXT: { test: (v) => v.length > 0, expected: 'text' },
};

const records: Rule = (config, report) => {
  const zone = config.site.domain;
  const geoNames = new Set((config.site.names ?? [zone]).map((n) => n.toLowerCase()));
  const byName = new Map<string, string[]>();
  config.dns.records.forEach((record, i) => {
    const name = absoluteName(record.name, zone);
    if (!isHostname(name, true) && !name.startsWith('_'))
      report(['dns', 'records', i, 'name'], `${quote(record.name)} is not a valid record name`);
    if (!isInZone(name, zone))
      report(['dns', 'records', i, 'name'], `${quote(record.name)} is outside the zone ${zone}`);
    const value = String(record.value);
    const check = RECORD_VALUE_CHECKS[record.type];
    if (check && !check.test(value))
      report(
        ['dns', 'records', i, 'value'],
        `${quote(value)} is not a valid ${record.type} value (expected ${check.expected})`,
      );
    if (record.type === 'CNAME') {
      if (name === zone.toLowerCase())
        report(
          ['dns', 'records', i],
          'a CNAME cannot be at the zone apex (RFC 1034 §3.6.2: a CNAME cannot coexist with the SOA and NS)',
        );
      else if (geoNames.has(name))
        report(
          ['dns', 'records', i],
          `${name} is one of site.names, answered by the nodes (expected no CNAME there)`,
        );
    }
    if ((record.type === 'A' || record.type === 'AAAA') && geoNames.has(name)) {
      report(
        ['dns', 'records', i],
        `${name} is one of site.names, whose ${record.type} records come from the nodes (expected no static ${record.type} there)`,
      );
    }
    const types = byName.get(name) ?? [];
    types.push(record.type);
    byName.set(name, types);
  });
  for (const [name, types] of byName) {
    if (types.includes('CNAME') && types.length > 1) {
      const i = config.dns.records.findIndex(
        (r) => r.type === 'CNAME' && absoluteName(r.name, zone) === name,
      );
      report(
        ['dns', 'records', i],
        `${name} has a CNAME and other records (RFC 1034: a CNAME stands alone)`,
      );
    }
  }
};

const health: Rule = (config, report) => {
  const { interval, timeout } = config.dns.health;
  const timeoutMs = parseDuration(timeout) ?? 0;
  const intervalMs = parseDuration(interval) ?? 0;
  if (timeoutMs >= intervalMs)
    report(
      ['dns', 'health', 'timeout'],
      `${timeout} is not shorter than the interval ${interval} (expected a timeout below the interval)`,
    );
};

const certificates: Rule = (config, report) => {
  const zone = config.site.domain;
  const siteNames = new Set((config.site.names ?? [zone]).map((n) => n.toLowerCase()));
  const seen = new Set<string>();
  (config.certd.certificates ?? []).forEach((cert, i) => {
    if (seen.has(cert.name))
      report(
        ['certd', 'certificates', i, 'name'],
        `${quote(cert.name)} is used twice (expected unique certificate names)`,
      );
    seen.add(cert.name);
    const challenge = cert.challenge ?? config.certd.challenge;
    cert.names.forEach((name, j) => {
      const lower = name.toLowerCase();
      if (lower.startsWith('*.')) {
        if (!isInZone(lower.slice(2), zone))
          report(
            ['certd', 'certificates', i, 'names', j],
            `${quote(name)} is outside the zone ${zone}`,
          );
        if (challenge !== 'dns-01')
          report(
            ['certd', 'certificates', i, 'names', j],
            `${quote(name)} is a wildcard, which needs challenge: dns-01`,
          );
      } else if (!siteNames.has(lower)) {
        report(
          ['certd', 'certificates', i, 'names', j],
          `${quote(name)} is not one of site.names (expected a name the nodes answer for)`,
        );
      }
    });
  });
};

const dns01Api: Rule = (config, report) => {
  const usesDns01 =
    config.certd.challenge === 'dns-01' ||
    (config.certd.certificates ?? []).some((c) => c.challenge === 'dns-01');
  if (!usesDns01) return;
  config.dns.nameservers.forEach((ns, i) => {
    if (!ns.api)
      report(
        ['dns', 'nameservers', i],
        `${ns.name} has no api URL, which DNS-01 needs to set its TXT records (expected api: http://…:8053)`,
      );
  });
  if (!config.dns.api.tokenFile)
    report(
      ['dns', 'api'],
      'DNS-01 needs the geodns API token (expected tokenFile: a file holding the bearer token)',
    );
};

/** The cross-field rules, each a small function (changesets' rules.ts). */
export const RULES: readonly Rule[] = [
  uniqueNodeNames,
  uniqueAddresses,
  exactlyOneDefault,
  continentsCovered,
  duplicateContinents,
  nodeRoots,
  namesInZone,
  nameservers,
  records,
  health,
  certificates,
  dns01Api,
];

/** Runs every rule and returns all the issues found. */
export function checkRules(config: RawConfig): RuleIssue[] {
  const issues: RuleIssue[] = [];
  for (const rule of RULES) rule(config, (path, message) => issues.push({ path, message }));
  return issues;
}
