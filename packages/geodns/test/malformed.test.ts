import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { loadConfig } from '@owncdn/core';
import { describe, expect, test } from 'vitest';
import { createServing } from '../src/serving.js';
import {
  api,
  buildQuery,
  dig,
  ecsOption,
  header,
  healthyZone,
  startTestServer,
} from './helpers.js';

// Bad input (issue #4): hand-built malformed packets get FORMERR or are
// dropped, are counted, and the server keeps serving; then a fuzz loop.

/** Sends `packet` then a sentinel query; resolves with the replies that came before the sentinel's. */
function exchangeBeforeSentinel(port: number, packet: Uint8Array): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const replies: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no reply to the sentinel query'));
    }, 5_000);
    socket.on('message', (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === 0x5e57 && msg.length > 12 && msg[12] === 8) {
        clearTimeout(timer);
        socket.close();
        resolve(replies);
      } else replies.push(msg);
    });
    socket.send(packet, port, '127.0.0.1', () =>
      socket.send(buildQuery('sentinel.example.org', { id: 0x5e57 }), port, '127.0.0.1'),
    );
  });
}

function u16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}

/** A header with the given counts (ID 0x0bad, RD). */
function rawHeader(qd: number, an = 0, ns = 0, ar = 0): number[] {
  return [0x0b, 0xad, 0x01, 0x00, ...u16(qd), ...u16(an), ...u16(ns), ...u16(ar)];
}

const QUESTION = [7, ...Buffer.from('example'), 3, ...Buffer.from('org'), 0, 0, 1, 0, 1];
const OPT = [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0];

const CASES: [string, number[], 'drop' | 'FORMERR', string | null][] = [
  [
    'a QR bit (a response sent to the server)',
    [0x0b, 0xad, 0x81, 0x00, ...u16(1), 0, 0, 0, 0, 0, 0, ...QUESTION],
    'drop',
    'response',
  ],
  [
    'a question that runs past the end',
    [...rawHeader(1), 7, ...Buffer.from('exam')],
    'FORMERR',
    'truncated',
  ],
  [
    'a name without its QTYPE and QCLASS',
    [...rawHeader(1), 7, ...Buffer.from('example'), 3, ...Buffer.from('org'), 0, 0],
    'FORMERR',
    'truncated',
  ],
  [
    'a compression pointer to itself',
    [...rawHeader(1), 0xc0, 12, 0, 1, 0, 1],
    'FORMERR',
    'bad-name',
  ],
  [
    'a pointer loop between two names',
    [...rawHeader(1), 1, 0x61, 0xc0, 12, 0, 1, 0, 1],
    'FORMERR',
    'bad-name',
  ],
  [
    'a label of 64 octets',
    [...rawHeader(1), 64, ...Array<number>(64).fill(0x61), 0, 0, 1, 0, 1],
    'FORMERR',
    'bad-name',
  ],
  [
    'a name over 255 octets',
    [
      ...rawHeader(1),
      ...Array.from({ length: 5 }, () => [63, ...Array<number>(63).fill(0x61)]).flat(),
      0,
      0,
      1,
      0,
      1,
    ],
    'FORMERR',
    'bad-name',
  ],
  ['QDCOUNT 0', [...rawHeader(0)], 'FORMERR', 'qdcount'],
  ['QDCOUNT 2', [...rawHeader(2), ...QUESTION, ...QUESTION], 'FORMERR', 'qdcount'],
  [
    'an OPT in the answer section',
    [...rawHeader(1, 1), ...QUESTION, ...OPT],
    'FORMERR',
    'opt-misplaced',
  ],
  [
    'an OPT in the authority section',
    [...rawHeader(1, 0, 1), ...QUESTION, ...OPT],
    'FORMERR',
    'opt-misplaced',
  ],
  [
    'two OPT records',
    [...rawHeader(1, 0, 0, 2), ...QUESTION, ...OPT, ...OPT],
    'FORMERR',
    'opt-duplicate',
  ],
  [
    'an OPT not owned by the root',
    [...rawHeader(1, 0, 0, 1), ...QUESTION, 1, 0x61, 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0],
    'FORMERR',
    'opt-bad-owner',
  ],
  [
    'an OPT whose RDATA runs past the end',
    [...rawHeader(1, 0, 0, 1), ...QUESTION, 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 20, 0, 8],
    'FORMERR',
    'truncated',
  ],
  [
    'more additional records than present',
    [...rawHeader(1, 0, 0, 3), ...QUESTION, ...OPT],
    'FORMERR',
    'truncated',
  ],
];

describe('malformed packets', () => {
  test('each is answered FORMERR or dropped, counted by reason, and the server keeps serving', async () => {
    const { files } = await healthyZone();
    const { port, api: base } = await startTestServer(files);
    const expectedCounts = new Map<string, number>();
    for (const [what, bytes, outcome, reason] of CASES) {
      const replies = await exchangeBeforeSentinel(port, Uint8Array.from(bytes));
      if (outcome === 'drop') expect(replies, what).toEqual([]);
      else
        expect(replies.map(header), what).toEqual([
          expect.objectContaining({ id: 0x0bad, qr: true, rcode: 1, ancount: 0 }),
        ]);
      if (reason) expectedCounts.set(reason, (expectedCounts.get(reason) ?? 0) + 1);
    }
    // ECS: a prefix longer than the family allows, bits set past the prefix (RFC 7871 §6: FORMERR).
    for (const option of [
      ecsOption('81.2.69.0/33', { addressBytes: [81, 2, 69, 0, 0] }),
      ecsOption('81.2.69.0/20', { addressBytes: [81, 2, 69] }),
    ]) {
      const replies = await exchangeBeforeSentinel(
        port,
        buildQuery('www.example.org', { id: 0x0bad, edns: { options: [option] } }),
      );
      expect(replies.map(header)).toEqual([expect.objectContaining({ id: 0x0bad, rcode: 1 })]);
      expectedCounts.set('ecs-invalid', (expectedCounts.get('ecs-invalid') ?? 0) + 1);
    }
    // Headers cut short: nothing to answer.
    for (let length = 0; length < 12; length++) {
      expect(
        await exchangeBeforeSentinel(port, buildQuery('example.org').subarray(0, length)),
        `${length} bytes`,
      ).toEqual([]);
    }
    expectedCounts.set('short-header', 12);
    const metrics = (await api(base, 'GET', '/metrics')).text;
    for (const [reason, count] of expectedCounts)
      expect(metrics).toContain(`owncdn_geodns_malformed_total{reason="${reason}"} ${count}`);
    expect((await dig(port, ['www.example.org', 'A', '+subnet=81.2.69.0/24'])).answer).toEqual([
      'www.example.org. 30 IN A 127.0.0.13',
    ]);
  });

  test('garbage of every length 0–600 over UDP and TCP never stops the server', async () => {
    const { files } = await healthyZone();
    const { port } = await startTestServer(files);
    const random = mulberry32(600);
    for (let length = 0; length <= 600; length++) {
      const bytes = Uint8Array.from({ length }, () => Math.floor(random() * 256));
      const replies = await exchangeBeforeSentinel(port, bytes);
      for (const reply of replies) {
        // Whatever came back is a well-formed response to that packet.
        expect(header(reply).qr).toBe(true);
        expect(reply.readUInt16BE(0)).toBe(((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0));
      }
    }
    // A TCP stream of garbage: the connection ends, the server does not.
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.end(Buffer.from(Array.from({ length: 4000 }, () => Math.floor(random() * 256)))),
      );
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
      socket.resume();
    });
    expect((await dig(port, ['example.org', 'A', '+tcp'])).answer).toEqual([
      'example.org. 30 IN A 127.0.0.11',
    ]);
  });
});

/** Small seeded PRNG (public-domain mulberry32), so a failing fuzz case can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Valid queries to mutate: plain, EDNS, ECS v4/v6, a name below a cut, NXDOMAIN, wildcards. */
function seeds(): Buffer[] {
  return [
    buildQuery('www.example.org'),
    buildQuery('example.org', { type: 6, edns: { udpSize: 4096 } }),
    buildQuery('www.example.org', { edns: { options: [ecsOption('81.2.69.0/24')] } }),
    buildQuery('www.example.org', { type: 28, edns: { options: [ecsOption('2a00:1450::/56')] } }),
    buildQuery('a.sub.example.org', { type: 1 }),
    buildQuery('no.such.example.org', { type: 16, edns: { dnssecOk: true } }),
    buildQuery('docs.example.org', { type: 255 }),
    buildQuery('a.b.wild.example.org', { type: 16, edns: { udpSize: 512 } }),
    buildQuery('x.geo.example.org', { edns: { options: [ecsOption('8.8.8.0/24')] } }),
  ];
}

function mutate(seed: Buffer, random: () => number): Buffer {
  const packet = Buffer.from(seed);
  const kind = Math.floor(random() * 5);
  if (kind === 0) {
    // Flip a few bytes anywhere, counts included.
    for (let i = 0, n = 1 + Math.floor(random() * 4); i < n; i++)
      packet[Math.floor(random() * packet.length)] = Math.floor(random() * 256);
    return packet;
  }
  if (kind === 1) return packet.subarray(0, Math.floor(random() * packet.length));
  if (kind === 2)
    return Buffer.concat([
      packet,
      Buffer.from(
        Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)),
      ),
    ]);
  if (kind === 3) {
    // Counts that lie.
    packet.writeUInt16BE(Math.floor(random() * 4), 4 + 2 * Math.floor(random() * 4));
    return packet;
  }
  return Buffer.from(
    Array.from({ length: Math.floor(random() * 80) }, () => Math.floor(random() * 256)),
  );
}

describe('fuzz', () => {
  test('300,000 random and mutated packets through the responder: no throw, every reply well-formed', async () => {
    const { files } = await healthyZone();
    const config = await loadConfig(files.file);
    const serving = await createServing({
      config,
      up: config.nodes.map((n) => [n.name, true] as const),
      txt: [],
      serial: 1,
    });
    const random = mulberry32(4);
    const pool = seeds();
    let answered = 0;
    for (let i = 0; i < 300_000; i++) {
      const packet = mutate(pool[i % pool.length]!, random);
      const reply = serving.responder.answer(
        packet,
        packet.length,
        i % 2 ? '203.0.113.9' : '2001:db8::9',
        i % 3 !== 0,
      );
      if (reply === null) continue;
      answered++;
      if (
        reply.length < 12 ||
        reply.readUInt16BE(0) !== packet.readUInt16BE(0) ||
        (reply[2]! & 0x80) === 0
      ) {
        throw new Error(`bad reply ${reply.toString('hex')} to ${packet.toString('hex')}`);
      }
    }
    expect(answered).toBeGreaterThan(100_000);
    const ok = serving.responder.answer(pool[0]!, pool[0]!.length, '127.0.0.1', true)!;
    expect(header(ok)).toMatchObject({ rcode: 0, ancount: 1 });
  });

  test('20,000 mutated packets over UDP, then a normal query gets the right answer', async () => {
    const { files } = await healthyZone();
    const { port } = await startTestServer(files);
    const socket = createSocket('udp4');
    const random = mulberry32(7);
    const pool = seeds();
    let wake = () => undefined as void;
    socket.on('message', (msg) => {
      if (msg.readUInt16BE(0) === 0x5e57 && msg[12] === 8) wake();
    });
    // Batches end with a sentinel query; its reply means the batch was processed (one socket, in order).
    for (let batch = 0; batch < 100; batch++) {
      for (let i = 0; i < 200; i++)
        socket.send(mutate(pool[(batch + i) % pool.length]!, random), port, '127.0.0.1');
      await new Promise<void>((resolve) => {
        const sentinel = () =>
          socket.send(buildQuery('sentinel.example.org', { id: 0x5e57 }), port, '127.0.0.1');
        // The sentinel can be lost with the batch when the socket buffer overflows: ask again.
        const retry = setInterval(sentinel, 1_000);
        wake = () => {
          clearInterval(retry);
          resolve();
        };
        sentinel();
      });
    }
    socket.close();
    expect((await dig(port, ['www.example.org', 'A', '+subnet=8.8.8.0/24'])).answer).toEqual([
      'www.example.org. 30 IN A 127.0.0.12',
    ]);
  });
});
