import { parseConfig } from '@owncdn/core';
import { describe, expect, test } from 'vitest';
import { computeClasses, pickNodes } from './select.js';

const config = parseConfig(
  `site: { domain: example.org }
nodes:
  - { name: au, ipv4: 192.0.2.1, continents: [OC, AS], default: true, root: /srv/au }
  - { name: us, ipv4: 192.0.2.2, continents: [NA], root: /srv/us }
  - { name: fr, ipv4: 192.0.2.3, continents: [EU, AF, SA], root: /srv/fr }
  - { name: de, ipv4: 192.0.2.4, continents: [EU], root: /srv/de }
dns:
  nameservers: [{ name: ns1.example.org, ipv4: 192.0.2.53 }]
`,
  '/srv/owncdn.yaml',
);
const node = (name: string) => config.nodes.find((n) => n.name === name)!;
const names = (list: readonly { name: string }[]) => list.map((n) => n.name);

describe('pickNodes (issue #4: continent → default → any healthy → all)', () => {
  const up = (...down: string[]) =>
    new Map(config.nodes.map((n) => [n.name, !down.includes(n.name)]));
  test('the healthy nodes listed for the continent', () => {
    expect(names(pickNodes([node('fr'), node('de')], config.nodes, up()))).toEqual(['fr', 'de']);
    expect(names(pickNodes([node('fr'), node('de')], config.nodes, up('de')))).toEqual(['fr']);
  });
  test('then the default node when it is healthy', () => {
    expect(names(pickNodes([node('fr'), node('de')], config.nodes, up('fr', 'de')))).toEqual([
      'au',
    ]);
    expect(names(pickNodes([], config.nodes, up()))).toEqual(['au']);
  });
  test('then any healthy node', () => {
    expect(names(pickNodes([node('us')], config.nodes, up('us', 'au')))).toEqual(['fr', 'de']);
  });
  test('then every node, never an empty answer', () => {
    expect(names(pickNodes([node('us')], config.nodes, up('au', 'us', 'fr', 'de')))).toEqual([
      'au',
      'us',
      'fr',
      'de',
    ]);
  });
});

describe('computeClasses', () => {
  test('continents with the same node list share a class; unknown goes with unlisted ones', () => {
    const { classOf, nodes } = computeClasses(config);
    // CONTINENTS order: AF AN AS EU NA OC SA, then unknown.
    const [af, an, as, eu, na, oc, sa, unknown] = Array.from(classOf);
    expect(af).toBe(sa);
    expect(as).toBe(oc);
    expect(an).toBe(unknown);
    expect(new Set([af, as, eu, na, an]).size).toBe(5);
    expect(names(nodes[eu!]!)).toEqual(['fr', 'de']);
    expect(names(nodes[an!]!)).toEqual([]);
  });
});
