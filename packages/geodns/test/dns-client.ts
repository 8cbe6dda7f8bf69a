import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { promisify } from 'node:util';

/**
 * DNS clients for the tests: dig (the real client), and hand-built packets
 * over UDP and TCP, whose bytes are exactly as the RFCs lay them out.
 */

const run = promisify(execFile);

export interface DigResult {
  readonly status: string;
  readonly flags: string[];
  readonly answer: string[];
  readonly authority: string[];
  readonly additional: string[];
  /** `CLIENT-SUBNET: 81.2.69.0/24/17` as dig prints it, or null. */
  readonly subnet: string | null;
  readonly raw: string;
}

/** Runs dig against the test server and parses its default output. */
export async function dig(port: number, args: readonly string[]): Promise<DigResult> {
  const { stdout } = await run('dig', [
    '@127.0.0.1',
    '-p',
    String(port),
    '+norec',
    '+time=3',
    '+tries=1',
    '+nocookie',
    ...args,
  ]);
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? '';
  const flags = (/flags: ([a-z ]+);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const section = (name: string) => {
    const match = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(stdout);
    return match?.[1]
      ? match[1]
          .split('\n')
          .filter((l) => l && !l.startsWith(';'))
          .map((l) => l.replace(/\s+/g, ' ').trim())
      : [];
  };
  return {
    status,
    flags,
    answer: section('ANSWER'),
    authority: section('AUTHORITY'),
    additional: section('ADDITIONAL'),
    subnet: /CLIENT-SUBNET: (\S+)/.exec(stdout)?.[1] ?? null,
    raw: stdout,
  };
}

/** Sends one raw packet over UDP and resolves with the reply, or null after `timeoutMs`. */
export function udpExchange(
  port: number,
  packet: Uint8Array,
  timeoutMs = 2000,
): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, timeoutMs);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.send(packet, port, '127.0.0.1');
  });
}

/** Sends several queries on one TCP connection (RFC 7766 framing) and collects as many replies. */
export function tcpExchange(
  port: number,
  packets: readonly Uint8Array[],
  expected = packets.length,
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const length = pending.readUInt16BE(0);
        replies.push(pending.subarray(2, 2 + length));
        pending = pending.subarray(2 + length);
      }
      if (replies.length >= expected) {
        socket.end();
        resolve(replies);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(replies));
    socket.on('connect', () => {
      for (const packet of packets) {
        const frame = Buffer.alloc(2 + packet.length);
        frame.writeUInt16BE(packet.length, 0);
        frame.set(packet, 2);
        socket.write(frame);
      }
    });
  });
}

/** Options of a hand-built query. */
export interface QueryOptions {
  readonly id?: number;
  readonly type?: number;
  readonly cls?: number;
  readonly rd?: boolean;
  /** Add an OPT record (payload size, version, DO). */
  readonly edns?: {
    udpSize?: number;
    version?: number;
    dnssecOk?: boolean;
    options?: Uint8Array[];
  } | null;
}

/** Builds a query packet by hand, the bytes exactly as the RFCs lay them out. */
export function buildQuery(name: string, options: QueryOptions = {}): Buffer {
  const parts: number[] = [];
  const u16 = (v: number) => parts.push((v >> 8) & 0xff, v & 0xff);
  u16(options.id ?? 0x1234);
  u16(options.rd === false ? 0x0000 : 0x0100);
  u16(1);
  u16(0);
  u16(0);
  u16(options.edns ? 1 : 0);
  for (const label of name.split('.').filter(Boolean)) {
    parts.push(label.length, ...Buffer.from(label, 'latin1'));
  }
  parts.push(0);
  u16(options.type ?? 1);
  u16(options.cls ?? 1);
  if (options.edns) {
    const rdata = Buffer.concat(options.edns.options ?? []);
    parts.push(0);
    u16(41);
    u16(options.edns.udpSize ?? 1232);
    parts.push(0, options.edns.version ?? 0, options.edns.dnssecOk ? 0x80 : 0, 0);
    u16(rdata.length);
    parts.push(...rdata);
  }
  return Buffer.from(parts);
}

/** An ECS option (RFC 7871 §6) for `address/prefix`, address bytes truncated to the prefix. */
export function ecsOption(
  subnet: string,
  overrides: { family?: number; addressBytes?: number[]; scope?: number } = {},
): Buffer {
  const [address = '', prefixText = '32'] = subnet.split('/');
  const prefix = Number(prefixText);
  const v6 = address.includes(':');
  let bytes: number[];
  if (v6) {
    const full = ipv6ToBytes(address);
    bytes = full.slice(0, Math.ceil(prefix / 8));
  } else {
    bytes = address
      .split('.')
      .map(Number)
      .slice(0, Math.ceil(prefix / 8));
  }
  if (overrides.addressBytes) bytes = overrides.addressBytes;
  const family = overrides.family ?? (v6 ? 2 : 1);
  const body = [family >> 8, family & 0xff, prefix, overrides.scope ?? 0, ...bytes];
  return Buffer.from([0, 8, body.length >> 8, body.length & 0xff, ...body]);
}

function ipv6ToBytes(text: string): number[] {
  const [head = '', tail = ''] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
}

/** Runs `fn` for a reply: header fields every test looks at. */
export function header(reply: Buffer) {
  return {
    id: reply.readUInt16BE(0),
    qr: (reply[2]! & 0x80) !== 0,
    opcode: (reply[2]! >> 3) & 0x0f,
    aa: (reply[2]! & 0x04) !== 0,
    tc: (reply[2]! & 0x02) !== 0,
    rd: (reply[2]! & 0x01) !== 0,
    rcode: reply[3]! & 0x0f,
    qdcount: reply.readUInt16BE(4),
    ancount: reply.readUInt16BE(6),
    nscount: reply.readUInt16BE(8),
    arcount: reply.readUInt16BE(10),
  };
}
