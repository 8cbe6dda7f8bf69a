import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigError } from '../errors.js';
import { loadConfig, parseConfig } from './load.js';
import { defaultOriginConfig } from './normalise.js';

const EXAMPLE = join(import.meta.dirname, '../../../../examples/owncdn.yaml');

const MINIMAL = `site:
  domain: example.test
  names: [example.test, www.example.test]
nodes:
  - name: au
    ipv4: 127.0.0.11
    continents: [OC, AS]
    default: true
    root: ./nodes/au
  - name: fr
    ipv4: 127.0.0.12
    continents: [EU]
    root: ./nodes/fr
dns:
  nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.1 }]
`;

/** The messages of the ConfigError that parsing `text` throws. */
function problems(text: string): string[] {
  try {
    parseConfig(text, '/srv/site/owncdn.yaml');
  } catch (error) {
    if (error instanceof ConfigError)
      return error.issues.map((i) => `${i.file}:${i.line} ${i.path}: ${i.message}`);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('accepts the committed three-region example and normalises it', async () => {
    const config = await loadConfig(EXAMPLE);
    expect(config.nodes.map((n) => n.name)).toEqual(['au', 'us', 'fr']);
    expect(config.site.content).toBe(join(EXAMPLE, '..', 'public'));
    expect(config.dns.health).toEqual({
      path: '/healthz',
      scheme: 'http',
      intervalMs: 10_000,
      timeoutMs: 2_000,
      rise: 2,
      fall: 3,
      jitter: 0.1,
    });
    expect(config.dns.records[0]).toEqual({
      name: 'example.org',
      type: 'MX',
      value: '10 mail.example.org.',
      ttl: 3600,
    });
    expect(config.dns.records[1]?.name).toBe('mail.example.org');
    expect(config.certd.directory).toBe('https://acme-v02.api.letsencrypt.org/directory');
    expect(config.certd.certificates).toEqual([
      {
        name: 'example.org',
        names: ['example.org', 'www.example.org'],
        keyType: 'ec-p256',
        challenge: 'http-01',
      },
    ]);
    expect(config.origin.maxMemoryFileBytes).toBe(8 * 1024 * 1024);
    expect(config.dns.soa).toMatchObject({
      mname: 'ns1.example.org',
      rname: 'hostmaster.example.org',
      minimumS: 300,
    });
  });

  it('gives origin without a config the same defaults as a file with no origin section', () => {
    expect(defaultOriginConfig()).toEqual(parseConfig(MINIMAL, '/srv/site/owncdn.yaml').origin);
    expect(defaultOriginConfig()).toMatchObject({
      http: 80,
      https: 443,
      maxMemoryFileBytes: 8 * 1024 * 1024,
      headersTimeoutMs: 10_000,
    });
  });

  it('returns a deeply frozen config', () => {
    const config = parseConfig(MINIMAL, '/srv/site/owncdn.yaml');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.nodes[0]?.continents)).toBe(true);
    expect(() => (config.nodes as unknown as unknown[]).push({})).toThrow(TypeError);
  });

  it('resolves local node roots against the file and remote ones default to /var/lib/owncdn', () => {
    const config = parseConfig(
      MINIMAL.replace('    root: ./nodes/fr\n', '    ssh: deploy@fr.example.test\n'),
      '/srv/site/owncdn.yaml',
    );
    expect(config.nodes[0]?.root).toBe('/srv/site/nodes/au');
    expect(config.nodes[1]).toMatchObject({
      ssh: 'deploy@fr.example.test',
      root: '/var/lib/owncdn',
      httpPort: 80,
      httpsPort: 443,
    });
  });

  it('reports a missing file with the fix', async () => {
    await expect(loadConfig('/nonexistent/owncdn.yaml')).rejects.toMatchObject({
      code: 'OWNCDN_CONFIG_NOT_FOUND',
      message:
        '/nonexistent/owncdn.yaml: no such file (expected an owncdn.yaml; see examples/owncdn.yaml, or pass -c PATH)',
    });
  });

  it('reports a directory given as the config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'owncdn-config-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await expect(loadConfig(dir)).rejects.toMatchObject({
      code: 'OWNCDN_CONFIG_UNREADABLE',
      message: `${dir}: is a directory (expected an owncdn.yaml file)`,
    });
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problems('site:\n  domain: [unclosed\nnodes: []\n')[0]).toMatch(
      /^owncdn\.yaml:3 : not valid YAML: /,
    );
  });

  it('rejects an empty file and a file of the wrong shape', () => {
    expect(problems('')).toEqual([
      'owncdn.yaml:0 : is empty (expected site, nodes and dns sections)',
    ]);
    expect(problems('- a\n- b\n')).toEqual(['owncdn.yaml:1 : is a list (expected a mapping)']);
  });

  it('reports every problem at once, each with its line, path and what was expected', () => {
    const broken = MINIMAL.replace('continents: [EU]', 'continents: [EUR]')
      .replace('    ipv4: 127.0.0.11\n', '    ipv4: 127.0.0.300\n    contients: [OC]\n')
      .replace('ns1.example.test, ipv4: 127.0.0.1', 'ns1.example.test, ipv4: 127.0.0.1, port: 53');
    expect(problems(broken)).toEqual([
      'owncdn.yaml:6 nodes[0].ipv4: "127.0.0.300" is not an IPv4 address (expected e.g. 203.0.113.10)',
      'owncdn.yaml:7 nodes[0].contients: unknown key (did you mean continents?)',
      'owncdn.yaml:13 nodes[1].continents[0]: "EUR" is not a continent code (expected AF AN AS EU NA OC SA)',
      'owncdn.yaml:16 dns.nameservers[0].port: unknown key (expected one of name, ipv4, ipv6, api)',
    ]);
  });

  it('reports wrong types and missing keys', () => {
    const broken = MINIMAL.replace('    default: true\n', '    default: "yes"\n').replace(
      '  domain: example.test\n',
      '',
    );
    expect(problems(broken)).toEqual([
      'owncdn.yaml:1 site.domain: is missing (expected text)',
      'owncdn.yaml:7 nodes[0].default: "yes" is text (expected true or false)',
    ]);
  });

  it('checks durations, sizes and enumerations', () => {
    const broken = `${MINIMAL}  health: { interval: 10x, timeout: 2s }\norigin:\n  maxMemoryFileSize: 8 parsecs\n  trailingSlash: sometimes\n`;
    expect(problems(broken)).toEqual([
      'owncdn.yaml:16 dns.health.interval: "10x" is not a duration (expected e.g. "10s": a number with ms, s, m, h or d)',
      'owncdn.yaml:18 origin.maxMemoryFileSize: "8 parsecs" is not a size (expected e.g. "8MiB": a number with B, KiB, MiB or GiB)',
      'owncdn.yaml:19 origin.trailingSlash: "sometimes" is not a trailing-slash policy (expected one of add, remove)',
    ]);
  });

  it('applies the cross-field rules', () => {
    const broken = MINIMAL.replace(
      '  - name: fr\n    ipv4: 127.0.0.12\n    continents: [EU]\n',
      '  - name: au\n    ipv4: 127.0.0.11\n    continents: [EU, EU]\n    default: true\n',
    ).replace('names: [example.test, www.example.test]', 'names: [example.test, www.example.org]');
    expect(problems(broken)).toEqual([
      'owncdn.yaml:3 site.names[1]: "www.example.org" is outside the zone example.test (expected example.test or a name ending in .example.test)',
      'owncdn.yaml:10 nodes[1].name: "au" is already the name of nodes[0] (expected unique node names)',
      'owncdn.yaml:11 nodes[1].ipv4: 127.0.0.11 is already the address of node au (expected one address per node)',
      'owncdn.yaml:12 nodes[1].continents[1]: EU is listed twice',
      'owncdn.yaml:13 nodes[1].default: nodes[0] (au) is already the default (expected exactly one default node)',
    ]);
  });

  it('requires a default node and names the continents nobody serves', () => {
    const broken = MINIMAL.replace('    default: true\n', '');
    expect(problems(broken)).toEqual([
      'owncdn.yaml:4 nodes: no node is the default (expected exactly one node with default: true, which answers when no other node matches)',
      'owncdn.yaml:4 nodes: continents AF AN NA SA are served by no node and there is no default node to fall back to',
    ]);
  });

  it('requires a root for local nodes and an absolute one for remote nodes', () => {
    const broken = MINIMAL.replace('    root: ./nodes/au\n', '').replace(
      '    root: ./nodes/fr\n',
      '    ssh: fr.example.test\n    root: var/lib/owncdn\n',
    );
    expect(problems(broken)).toEqual([
      'owncdn.yaml:5 nodes[0]: a local node (no ssh) needs a root (expected root: a directory on this machine)',
      'owncdn.yaml:13 nodes[1].root: "var/lib/owncdn" is relative (expected an absolute path on the node, e.g. /var/lib/owncdn)',
    ]);
  });

  it('validates static records against their type and the zone', () => {
    const broken = `${MINIMAL}  records:
    - { name: "@", type: CNAME, value: other.example.test. }
    - { name: mail, type: A, value: mail.example.test }
    - { name: www, type: A, value: 192.0.2.1 }
    - { name: x.example.org., type: MX, value: "10 mail" }
    - { name: "@", type: SPF, value: "v=spf1" }
`;
    expect(problems(broken)).toEqual([
      'owncdn.yaml:21 dns.records[4].type: "SPF" is not a supported record type (expected one of A, AAAA, CNAME, MX, TXT, CAA, SRV, NS)',
    ]);
    expect(problems(broken.replace(/.*SPF.*\n/, ''))).toEqual([
      'owncdn.yaml:17 dns.records[0]: a CNAME cannot be at the zone apex (RFC 1034 §3.6.2: a CNAME cannot coexist with the SOA and NS)',
      'owncdn.yaml:18 dns.records[1].value: "mail.example.test" is not a valid A value (expected an IPv4 address)',
      'owncdn.yaml:19 dns.records[2]: www.example.test is one of site.names, whose A records come from the nodes (expected no static A there)',
      'owncdn.yaml:20 dns.records[3].name: "x.example.org." is outside the zone example.test',
    ]);
  });

  it('requires glue for in-zone nameservers, a timeout below the interval, and APIs for DNS-01', () => {
    const broken =
      MINIMAL.replace('{ name: ns1.example.test, ipv4: 127.0.0.1 }', '{ name: ns1.example.test }') +
      '  health: { interval: 2s, timeout: 5s }\ncertd:\n  challenge: dns-01\n';
    expect(problems(broken)).toEqual([
      'owncdn.yaml:14 dns.api: DNS-01 needs the geodns API token (expected tokenFile: a file holding the bearer token)',
      'owncdn.yaml:15 dns.nameservers[0]: ns1.example.test is inside the zone, so it needs glue (expected ipv4 and/or ipv6)',
      'owncdn.yaml:15 dns.nameservers[0]: ns1.example.test has no api URL, which DNS-01 needs to set its TXT records (expected api: http://…:8053)',
      'owncdn.yaml:16 dns.health.timeout: 5s is not shorter than the interval 2s (expected a timeout below the interval)',
    ]);
  });

  it('keeps wildcard certificates to DNS-01 and certificate names to site.names', () => {
    const broken = `${MINIMAL}certd:\n  certificates:\n    - { name: main, names: ["*.example.test", other.example.test] }\n`;
    expect(problems(broken)).toEqual([
      'owncdn.yaml:18 certd.certificates[0].names[0]: "*.example.test" is a wildcard, which needs challenge: dns-01',
      'owncdn.yaml:18 certd.certificates[0].names[1]: "other.example.test" is not one of site.names (expected a name the nodes answer for)',
    ]);
  });
});
