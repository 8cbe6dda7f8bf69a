import { createSocket } from 'node:dgram';
import { describe, expect, test } from 'vitest';
import {
  buildQuery,
  editZone,
  header,
  healthyZone,
  startTestServer,
  tcpExchange,
} from './helpers.js';

// Response rate limiting (issue #4, "Speed"): identical responses to one
// client prefix beyond the rate are dropped, every `slip`-th sent truncated.

/** Sends `count` identical queries then a different one; collects replies until that one's. */
function burst(port: number, name: string, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const replies: Buffer[] = [];
    const timer = setTimeout(
      () => reject(new Error(`no reply to the closing query after ${replies.length} replies`)),
      5_000,
    );
    socket.on('message', (msg) => {
      if (msg.readUInt16BE(0) === 0xffff) {
        clearTimeout(timer);
        socket.close();
        resolve(replies);
      } else replies.push(msg);
    });
    for (let i = 0; i < count; i++) socket.send(buildQuery(name, { id: i }), port, '127.0.0.1');
    // A different answer (its own counter) that is not limited: it marks the end.
    socket.send(buildQuery('mail.example.org', { id: 0xffff }), port, '127.0.0.1');
  });
}

describe('RRL', () => {
  test('5 per second: the 6th identical response on is dropped, every 2nd of those slips out truncated', async () => {
    const { files } = await healthyZone();
    await editZone(files, (text) =>
      text.replace(
        'rrl: { enabled: false }',
        'rrl: { enabled: true, responsesPerSecond: 5, slip: 2 }',
      ),
    );
    // A clock that stands still: all queries fall in one second.
    const { port, api: base } = await startTestServer(files, { now: () => 1_700_000_000_000 });
    const replies = await burst(port, 'www.example.org', 20);
    const full = replies.filter((r) => !header(r).tc);
    const truncated = replies.filter((r) => header(r).tc);
    expect(full.map((r) => header(r).id)).toEqual([0, 1, 2, 3, 4]);
    // Limited: ids 5..19 (15 responses); the 2nd, 4th, … slip: 7 truncated, 8 dropped.
    expect(truncated.map((r) => header(r).id)).toEqual([6, 8, 10, 12, 14, 16, 18]);
    expect(truncated.every((r) => header(r).ancount === 0 && header(r).qdcount === 1)).toBe(true);
    // NXDOMAIN answers share one counter per zone, as in BIND's RRL.
    const nx = await burst(port, 'random-1.example.org', 3);
    expect(nx.filter((r) => !header(r).tc)).toHaveLength(3);
    // TCP is never limited (the client proved its address).
    const tcp = await tcpExchange(
      port,
      Array.from({ length: 10 }, (_, i) => buildQuery('www.example.org', { id: 100 + i })),
    );
    expect(tcp.map((r) => header(r).tc)).toEqual(Array<boolean>(10).fill(false));
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
    expect(metrics).toContain('owncdn_geodns_rrl_total{action="drop"} 8');
    expect(metrics).toContain('owncdn_geodns_rrl_total{action="slip"} 7');
  });
});
