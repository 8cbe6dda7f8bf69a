import { once } from 'node:events';
import { connect } from 'node:net';
import { Packet } from 'dns2';
import { describe, expect, test } from 'vitest';
import {
  buildQuery,
  dig,
  header,
  healthyZone,
  startTestServer,
  tcpExchange,
  udpExchange,
} from './helpers.js';

// Authoritative DNS by the RFCs (issue #4, "What must work" 1), checked with
// dig and with hand-built packets decoded by dns2 (an independent decoder).

describe('answers', () => {
  test('apex SOA, NS with glue, MX, TXT, CAA, SRV, and the geo A', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    const soa = await dig(port, ['example.org', 'SOA']);
    expect(soa.status).toBe('NOERROR');
    expect(soa.flags).toContain('aa');
    expect(soa.answer).toEqual([
      expect.stringMatching(
        /^example\.org\. 3600 IN SOA ns1\.example\.org\. hostmaster\.example\.org\. \d+ 3600 900 604800 300$/,
      ),
    ]);

    const ns = await dig(port, ['example.org', 'NS']);
    expect(ns.answer).toEqual([
      'example.org. 3600 IN NS ns1.example.org.',
      'example.org. 3600 IN NS ns.other.net.',
    ]);
    expect(ns.additional).toEqual([
      'ns1.example.org. 3600 IN A 127.0.0.53',
      'ns1.example.org. 3600 IN AAAA 2001:db8::53',
    ]);
    expect((await dig(port, ['ns1.example.org', 'A'])).answer).toEqual([
      'ns1.example.org. 3600 IN A 127.0.0.53',
    ]);

    const mx = await dig(port, ['example.org', 'MX']);
    expect(mx.answer).toEqual(['example.org. 3600 IN MX 10 mail.example.org.']);
    expect(mx.additional).toEqual(['mail.example.org. 3600 IN A 192.0.2.25']);
    expect((await dig(port, ['example.org', 'TXT'])).answer).toEqual([
      'example.org. 3600 IN TXT "v=spf1 mx -all"',
    ]);
    expect((await dig(port, ['example.org', 'CAA'])).answer).toEqual([
      'example.org. 3600 IN CAA 0 issue "letsencrypt.org"',
    ]);
    expect((await dig(port, ['_sip._tcp.example.org', 'SRV'])).answer).toEqual([
      '_sip._tcp.example.org. 3600 IN SRV 10 5 5060 sip.example.org.',
    ]);

    // From loopback without ECS the client's continent is unknown: the default node (au).
    const a = await dig(port, ['example.org', 'A']);
    expect(a.answer).toEqual(['example.org. 30 IN A 127.0.0.11']);
    expect((await dig(port, ['www.example.org', 'AAAA'])).answer).toEqual([
      'www.example.org. 30 IN AAAA 2001:db8::11',
    ]);
  });

  test('NXDOMAIN and NODATA carry the SOA with the negative TTL; names outside the zone are REFUSED', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    const nx = await dig(port, ['nope.example.org', 'A']);
    expect(nx.status).toBe('NXDOMAIN');
    expect(nx.flags).toContain('aa');
    expect(nx.answer).toEqual([]);
    expect(nx.authority).toEqual([
      expect.stringMatching(/^example\.org\. 300 IN SOA ns1\.example\.org\. /),
    ]);

    const nodata = await dig(port, ['mail.example.org', 'AAAA']);
    expect(nodata.status).toBe('NOERROR');
    expect(nodata.answer).toEqual([]);
    expect(nodata.authority).toEqual([expect.stringMatching(/^example\.org\. 300 IN SOA /)]);
    // An empty non-terminal (a.b.deep exists) is NODATA, not NXDOMAIN (RFC 8020).
    expect((await dig(port, ['deep.example.org', 'A'])).status).toBe('NOERROR');
    expect((await dig(port, ['b.deep.example.org', 'TXT'])).status).toBe('NOERROR');

    const refused = await dig(port, ['example.com', 'A']);
    expect(refused.status).toBe('REFUSED');
    expect(refused.flags).not.toContain('aa');
    expect((await dig(port, ['notexample.org', 'A'])).status).toBe('REFUSED');
    expect((await dig(port, ['.', 'SOA'])).status).toBe('REFUSED');
  });

  test('CNAME chains are followed inside the zone, and stop outside it', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    const chain = await dig(port, ['docs.example.org', 'A', '+subnet=81.2.69.0/24']);
    expect(chain.answer).toEqual([
      'docs.example.org. 3600 IN CNAME blog.example.org.',
      'blog.example.org. 3600 IN CNAME www.example.org.',
      'www.example.org. 30 IN A 127.0.0.13',
    ]);
    // The answer depends on the client through www: the scope says so.
    expect(chain.subnet).toMatch(/^81\.2\.69\.0\/24\/\d+$/);
    expect((await dig(port, ['docs.example.org', 'CNAME'])).answer).toEqual([
      'docs.example.org. 3600 IN CNAME blog.example.org.',
    ]);
    expect((await dig(port, ['ext.example.org', 'A'])).answer).toEqual([
      'ext.example.org. 3600 IN CNAME target.other.net.',
    ]);
    // A loop in the data ends after a bounded number of hops instead of spinning.
    const loop = await dig(port, ['loop1.example.org', 'A']);
    expect(loop.status).toBe('NOERROR');
    expect(loop.answer.length).toBeGreaterThan(1);
    expect(loop.answer.length).toBeLessThanOrEqual(10);
    const dangling = await dig(port, ['dangling.example.org', 'A']);
    expect(dangling.status).toBe('NXDOMAIN');
    expect(dangling.answer).toEqual(['dangling.example.org. 3600 IN CNAME nothing.example.org.']);
  });

  test('a delegation gets a referral: no AA, NS in authority, glue', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    for (const name of ['sub.example.org', 'x.sub.example.org', 'a.b.sub.example.org']) {
      const r = await dig(port, [name, 'A']);
      expect(r.status).toBe('NOERROR');
      expect(r.flags).not.toContain('aa');
      expect(r.answer).toEqual([]);
      expect(r.authority).toEqual(['sub.example.org. 3600 IN NS ns.sub.example.org.']);
      expect(r.additional).toEqual(['ns.sub.example.org. 3600 IN A 192.0.2.99']);
    }
  });

  test('wildcards answer for names that do not exist below their closest encloser (RFC 4592)', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    const a = await dig(port, ['a.wild.example.org', 'A']);
    expect(a.status).toBe('NOERROR');
    expect(a.flags).toContain('aa');
    expect(a.answer).toEqual(['a.wild.example.org. 3600 IN A 192.0.2.80']);
    expect((await dig(port, ['x.y.wild.example.org', 'TXT'])).answer).toEqual([
      'x.y.wild.example.org. 3600 IN TXT "wildcard"',
    ]);
    // An existing name is not covered; below it, its own (absent) wildcard decides.
    expect((await dig(port, ['exact.wild.example.org', 'A'])).answer).toEqual([
      'exact.wild.example.org. 3600 IN A 192.0.2.81',
    ]);
    expect((await dig(port, ['x.exact.wild.example.org', 'A'])).status).toBe('NXDOMAIN');
    const nodata = await dig(port, ['a.wild.example.org', 'AAAA']);
    expect(nodata.status).toBe('NOERROR');
    expect(nodata.answer).toEqual([]);
    expect(nodata.authority).toEqual([expect.stringMatching(/^example\.org\. 300 IN SOA /)]);
    // A wildcard CNAME to a geo name is geo too.
    const geo = await dig(port, ['anything.geo.example.org', 'A', '+subnet=81.2.69.0/24']);
    expect(geo.answer).toEqual([
      'anything.geo.example.org. 3600 IN CNAME www.example.org.',
      'www.example.org. 30 IN A 127.0.0.13',
    ]);
    expect(geo.subnet).toMatch(/^81\.2\.69\.0\/24\/[1-9]\d*$/);
    // The owner is the question, case included.
    const reply = (await udpExchange(port, buildQuery('Mixed.Case.WILD.example.org')))!;
    expect(Packet.parse(reply).answers[0]).toMatchObject({
      name: 'Mixed.Case.WILD.example.org',
      address: '192.0.2.80',
    });
  });

  test('ANY gets one RRset (RFC 8482); unknown types get NODATA', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    expect((await dig(port, ['example.org', 'ANY'])).answer).toEqual([
      'example.org. 30 IN A 127.0.0.11',
    ]);
    expect((await dig(port, ['mail.example.org', 'ANY'])).answer).toEqual([
      'mail.example.org. 3600 IN A 192.0.2.25',
    ]);
    const hinfo = await dig(port, ['example.org', 'HINFO']);
    expect(hinfo.status).toBe('NOERROR');
    expect(hinfo.answer).toEqual([]);
  });
});

describe('the wire', () => {
  test('case is matched insensitively and echoed; ID, RD and the question are copied', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    const query = buildQuery('wWw.ExAmPlE.oRg', { id: 0xa5a5, type: 1 });
    const reply = (await udpExchange(port, query))!;
    expect(header(reply)).toMatchObject({
      id: 0xa5a5,
      qr: true,
      aa: true,
      rd: true,
      tc: false,
      rcode: 0,
      qdcount: 1,
      ancount: 1,
    });
    expect(reply.subarray(12, query.length)).toEqual(query.subarray(12));
    const decoded = Packet.parse(reply);
    expect(decoded.answers[0]).toMatchObject({
      name: 'wWw.ExAmPlE.oRg',
      type: 1,
      ttl: 30,
      address: '127.0.0.11',
    });
    // Without RD set in the query, none in the reply.
    const noRd = (await udpExchange(port, buildQuery('example.org', { rd: false })))!;
    expect(header(noRd).rd).toBe(false);
  });

  test('EDNS0: an OPT in every reply, our payload size, DO copied, no OPT without EDNS', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    const reply = (await udpExchange(
      port,
      buildQuery('example.org', { edns: { udpSize: 4096, dnssecOk: true } }),
    ))!;
    const decoded = Packet.parse(reply);
    const opt = decoded.additionals.find((r) => r.type === 41);
    expect(opt).toMatchObject({ class: 1232, version: 0, doFlag: true });
    const plain = (await udpExchange(port, buildQuery('example.org')))!;
    expect(header(plain).arcount).toBe(0);
  });

  test("a reply over the requester's payload size is truncated; TCP carries it whole", async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    // Three 250-byte TXT strings: ~830 bytes.
    const classic = await dig(port, ['big.example.org', 'TXT', '+noedns', '+ignore']);
    expect(classic.flags).toContain('tc');
    expect(classic.answer).toEqual([]);
    expect(
      (await dig(port, ['big.example.org', 'TXT', '+bufsize=512', '+ignore'])).flags,
    ).toContain('tc');
    // Values below 512 count as 512 (RFC 6891 §6.2.5).
    expect(
      (await dig(port, ['big.example.org', 'TXT', '+bufsize=100', '+ignore'])).flags,
    ).toContain('tc');
    const large = await dig(port, ['big.example.org', 'TXT', '+bufsize=1232', '+ignore']);
    expect(large.flags).not.toContain('tc');
    expect(large.answer).toHaveLength(3);
    const tcp = await dig(port, ['big.example.org', 'TXT', '+tcp', '+noedns']);
    expect(tcp.flags).not.toContain('tc');
    expect(tcp.answer).toHaveLength(3);
  });

  test('BADVERS for EDNS version 1, NOTIMP for other opcodes, FORMERR for QDCOUNT 2', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    const badvers = await dig(port, ['example.org', 'A', '+edns=1', '+noednsneg']);
    expect(badvers.status).toBe('BADVERS');
    const notify = buildQuery('example.org');
    notify[2] = 4 << 3; // opcode NOTIFY
    expect(header((await udpExchange(port, notify))!)).toMatchObject({
      qr: true,
      opcode: 4,
      rcode: 4,
    });
    const two = buildQuery('example.org');
    two[5] = 2;
    expect(header((await udpExchange(port, two))!)).toMatchObject({ qr: true, rcode: 1 });
    // Class CH (version.bind and friends) is not ours.
    expect(header((await udpExchange(port, buildQuery('example.org', { cls: 3 })))!).rcode).toBe(5);
  });

  test('TCP: several pipelined queries on one connection, answered in order (RFC 7766)', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    const names = ['example.org', 'mail.example.org', 'nope.example.org', 'www.example.org'];
    const replies = await tcpExchange(
      port,
      names.map((name, i) => buildQuery(name, { id: 100 + i })),
    );
    expect(replies.map((r) => header(r).id)).toEqual([100, 101, 102, 103]);
    expect(replies.map((r) => header(r).rcode)).toEqual([0, 0, 3, 0]);
    expect(Packet.parse(replies[1]!).answers[0]).toMatchObject({ address: '192.0.2.25' });
    expect((await dig(port, ['example.org', 'A', '+tcp'])).answer).toEqual([
      'example.org. 30 IN A 127.0.0.11',
    ]);
  });

  test('TCP: a query that arrives a byte at a time is reassembled', async () => {
    const { port } = await startTestServer((await healthyZone()).files);
    const query = buildQuery('mail.example.org', { id: 0x7777 });
    const frame = Buffer.concat([Buffer.from([query.length >> 8, query.length & 0xff]), query]);
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await once(socket, 'connect');
    const reply = new Promise<Buffer>((resolve) => {
      let data = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        if (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) resolve(data.subarray(2));
      });
    });
    for (const byte of frame) {
      // Each byte its own segment: wait until it has left before sending the next.
      await new Promise<void>((resolve) => socket.write(Buffer.from([byte]), () => resolve()));
    }
    const answer = await reply;
    socket.destroy();
    expect(header(answer)).toMatchObject({ id: 0x7777, rcode: 0, ancount: 1 });
    expect(Packet.parse(answer).answers[0]).toMatchObject({ address: '192.0.2.25' });
  });

  test('TCP: an idle connection is closed by the server', async () => {
    const { files } = await healthyZone('  tcpIdleTimeout: 100ms');
    const { port } = await startTestServer(files);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    await once(socket, 'close');
    expect(socket.destroyed).toBe(true);
  });
});
