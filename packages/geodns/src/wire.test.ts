import { Packet } from 'dns2';
import { describe, expect, test } from 'vitest';
import { buildQuery, ecsOption } from '../test/helpers.js';
import { PARSE, createQuery, parseQuery } from './wire.js';
import { MessageWriter, keyToName, nameKey } from './writer.js';

describe('parseQuery', () => {
  test('reads the header, question and a lower-cased key of a plain query', () => {
    const q = createQuery();
    const packet = buildQuery('WWW.Example.org', { id: 0xbeef, type: 28 });
    expect(parseQuery(packet, packet.length, q)).toBe(PARSE.OK);
    expect(q.id).toBe(0xbeef);
    expect(q.qtype).toBe(28);
    expect(q.qclass).toBe(1);
    expect(q.key).toBe(nameKey('www.example.org'));
    expect(keyToName(q.key)).toBe('www.example.org');
    expect(q.labelCount).toBe(3);
    expect(Array.from(q.labelStarts.subarray(0, 3))).toEqual([0, 4, 12]);
    expect(q.questionEnd).toBe(packet.length);
    expect(q.edns).toBe(false);
  });

  test('reads EDNS0 and a valid ECS option', () => {
    const q = createQuery();
    const packet = buildQuery('example.org', {
      edns: { udpSize: 4096, dnssecOk: true, options: [ecsOption('81.2.69.0/24')] },
    });
    expect(parseQuery(packet, packet.length, q)).toBe(PARSE.OK);
    expect(q.edns).toBe(true);
    expect(q.udpSize).toBe(4096);
    expect(q.dnssecOk).toBe(true);
    expect(q.ecsFamily).toBe(1);
    expect(q.ecsSourcePrefix).toBe(24);
    expect(Array.from(q.ecsAddress.subarray(0, 4))).toEqual([81, 2, 69, 0]);
    expect(q.ecsLength).toBe(4 + 4 + 3);
  });

  test.each([
    [
      'a prefix longer than IPv4 allows',
      ecsOption('81.2.69.0/33', { addressBytes: [81, 2, 69, 0, 0] }),
    ],
    [
      'a prefix longer than IPv6 allows',
      ecsOption('2001:db8::/129', { addressBytes: Array<number>(17).fill(0) }),
    ],
    ['address bits past the prefix', ecsOption('81.2.69.0/20', { addressBytes: [81, 2, 69] })],
    [
      'an address longer than the prefix needs',
      ecsOption('81.2.69.0/16', { addressBytes: [81, 2, 0] }),
    ],
    ['an unknown family', ecsOption('81.2.69.0/24', { family: 3 })],
  ])('ECS with %s is FORMERR (RFC 7871 §6)', (_what, option) => {
    const q = createQuery();
    const packet = buildQuery('example.org', { edns: { options: [option] } });
    expect(parseQuery(packet, packet.length, q)).toBe(PARSE.FORMERR);
    expect(q.reason).toBe('ecs-invalid');
  });

  test('an EDNS version other than 0 is BADVERS', () => {
    const q = createQuery();
    const packet = buildQuery('example.org', { edns: { version: 1 } });
    expect(parseQuery(packet, packet.length, q)).toBe(PARSE.BADVERS);
  });

  test('a response, a short header and other opcodes are told apart', () => {
    const q = createQuery();
    const response = buildQuery('example.org');
    response[2] = response[2]! | 0x80;
    expect(parseQuery(response, response.length, q)).toBe(PARSE.DROP);
    expect(q.reason).toBe('response');
    expect(parseQuery(response, 11, q)).toBe(PARSE.DROP);
    expect(q.reason).toBe('short-header');
    const notify = buildQuery('example.org');
    notify[2] = 4 << 3;
    expect(parseQuery(notify, notify.length, q)).toBe(PARSE.NOTIMP);
  });
});

describe('MessageWriter', () => {
  test('compresses repeated names and dns2 decodes the result', () => {
    const w = new MessageWriter();
    for (const v of [0x1234, 0x8400, 1, 2, 0, 0]) w.u16(v);
    w.name('www.example.org');
    w.u16(1);
    w.u16(1);
    w.record('www.example.org', 5, 60, (x) => x.name('cdn.example.org'));
    w.record('cdn.example.org', 1, 30, (x) => x.bytes(Uint8Array.from([192, 0, 2, 1])));
    const bytes = w.finish();
    // The CNAME owner is a 2-byte pointer to offset 12, its target shares `example.org`.
    expect(bytes.readUInt16BE(12 + 17 + 4)).toBe(0xc00c);
    const decoded = Packet.parse(bytes);
    expect(decoded.answers.map((a) => [a.name, a.type, a.ttl])).toEqual([
      ['www.example.org', 5, 60],
      ['cdn.example.org', 1, 30],
    ]);
    expect(decoded.answers[0]).toMatchObject({ domain: 'cdn.example.org' });
    expect(decoded.answers[1]).toMatchObject({ address: '192.0.2.1' });
  });
});
