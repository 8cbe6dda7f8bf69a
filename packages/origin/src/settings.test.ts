import { parseConfig } from '@owncdn/core';
import { describe, expect, it } from 'vitest';
import { bindHosts, parseHostPort, resolveSettings } from './settings.js';

const config = parseConfig(
  `site: { domain: example.test }
nodes:
  - { name: au, ipv4: 127.0.0.11, ipv6: "::1", continents: [OC], default: true, root: /srv/au, http: 8080, https: 8443 }
origin: { bind: node, workers: 3 }
dns: { nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.1 }] }
`,
  '/tmp/owncdn.yaml',
);

describe('resolveSettings', () => {
  it('serves <root>/current of a node on its addresses and ports', () => {
    const settings = resolveSettings({ config, node: 'au' });
    expect(settings).toMatchObject({
      mode: 'node',
      node: 'au',
      siteDir: '/srv/au/current',
      root: '/srv/au',
      http: { hosts: ['127.0.0.11', '::1'], port: 8080 },
      https: { hosts: ['127.0.0.11', '::1'], port: 8443 },
      workers: 3,
    });
  });

  it('lets flags override ports and workers', () => {
    expect(
      resolveSettings({ config, node: 'au', httpPort: 0, httpsPort: 0, workers: 1 }),
    ).toMatchObject({
      http: { port: 0 },
      https: { port: 0 },
      workers: 1,
    });
  });

  it('lets --http override the port of --listen', () => {
    expect(
      resolveSettings({ dir: '/srv/site', listen: '127.0.0.1:8080', httpPort: 9000 }).http,
    ).toEqual({
      hosts: ['127.0.0.1'],
      port: 9000,
    });
  });

  it('serves a directory standalone, without a config', () => {
    expect(resolveSettings({ dir: '/srv/site', listen: '[::1]:9000' })).toMatchObject({
      mode: 'dir',
      node: null,
      siteDir: '/srv/site',
      root: null,
      http: { hosts: ['::1'], port: 9000 },
      https: null,
    });
  });

  it.each([
    [
      {},
      'origin needs either a node (--node au) or a directory (--dir ./public), not both or neither',
    ],
    [
      { dir: '.', node: 'au' },
      'origin needs either a node (--node au) or a directory (--dir ./public), not both or neither',
    ],
    [{ node: 'au' }, 'node mode (--node au) needs the owncdn.yaml config'],
    [
      { dir: '.', listen: 'localhost' },
      '--listen: "localhost" is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)',
    ],
    [
      { dir: '.', listen: '127.0.0.1:99999' },
      '--listen: "127.0.0.1:99999" is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)',
    ],
    [{ dir: '.', workers: -1 }, 'workers: -1 is not a count (0 = one per core)'],
    [{ dir: '.', httpPort: 70000 }, 'http port: 70000 is not a port (0-65535)'],
  ])('refuses %j', (options, message) => {
    expect(() => resolveSettings(options)).toThrow(message);
  });

  it('refuses an unknown node with OWNCDN_NODE_UNKNOWN', () => {
    expect(() => resolveSettings({ config, node: 'mars' })).toThrow(
      expect.objectContaining({ code: 'OWNCDN_NODE_UNKNOWN' }),
    );
  });
});

describe('bindHosts and parseHostPort', () => {
  it('maps origin.bind to addresses', () => {
    expect(bindHosts('all', '192.0.2.1', null)).toEqual(['::', '0.0.0.0']);
    expect(bindHosts('node', '192.0.2.1', '2001:db8::1')).toEqual(['192.0.2.1', '2001:db8::1']);
    expect(bindHosts('node', '192.0.2.1', null)).toEqual(['192.0.2.1']);
    expect(bindHosts('10.0.0.5', '192.0.2.1', null)).toEqual(['10.0.0.5']);
    expect(() => bindHosts('somewhere', '192.0.2.1', null)).toThrow(
      'origin.bind: "somewhere" is not all, node or an IP address',
    );
  });

  it('splits host:port and [v6]:port', () => {
    expect(parseHostPort('127.0.0.1:8080', 'x')).toEqual({ hosts: ['127.0.0.1'], port: 8080 });
    expect(parseHostPort('[::1]:0', 'x')).toEqual({ hosts: ['::1'], port: 0 });
  });
});
