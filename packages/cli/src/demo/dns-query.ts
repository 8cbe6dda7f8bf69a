import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';

/** RFC 1035 §4.1.1 header flags: RD (recursion desired) only. */
const FLAGS_RD = 0x0100;
const TYPE_A = 1;
const TYPE_OPT = 41;
/** RFC 7871 §6: EDNS option code of the Client Subnet option. */
const OPTION_ECS = 8;

function encodeName(name: string): Buffer {
  const parts = name
    .split('.')
    .filter(Boolean)
    .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

/** An A query for `name`, with an EDNS0 Client Subnet option for an IPv4 `subnet` (`a.b.c.d/len`) when given. */
export function buildQuery(name: string, subnet: string | null): { id: number; packet: Buffer } {
  const id = randomInt(0, 0x10000);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(FLAGS_RD, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 10);
  const question = Buffer.concat([encodeName(name), Buffer.from([0, TYPE_A, 0, 1])]);
  let option = Buffer.alloc(0);
  if (subnet) {
    const [address = '', lengthText = '24'] = subnet.split('/');
    const prefix = Number(lengthText);
    const bytes = address
      .split('.')
      .map(Number)
      .slice(0, Math.ceil(prefix / 8));
    option = Buffer.alloc(4 + 4 + bytes.length);
    option.writeUInt16BE(OPTION_ECS, 0);
    option.writeUInt16BE(4 + bytes.length, 2);
    option.writeUInt16BE(1, 4); // family 1 = IPv4
    option.writeUInt8(prefix, 6);
    option.writeUInt8(0, 7); // scope prefix length: 0 in queries
    Buffer.from(bytes).copy(option, 8);
  }
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(TYPE_OPT, 1);
  opt.writeUInt16BE(1232, 3); // our UDP payload size
  opt.writeUInt16BE(option.length, 9);
  return { id, packet: Buffer.concat([header, question, opt, option]) };
}

function skipName(packet: Buffer, offset: number): number {
  let at = offset;
  while (at < packet.length) {
    const length = packet[at] ?? 0;
    if (length === 0) return at + 1;
    if ((length & 0xc0) === 0xc0) return at + 2;
    at += length + 1;
  }
  throw new Error('truncated name in DNS reply');
}

/** The IPv4 addresses in the answer section of a reply, and its rcode. */
export function parseAnswers(packet: Buffer): { rcode: number; addresses: string[] } {
  const rcode = packet.readUInt16BE(2) & 0x0f;
  const answers = packet.readUInt16BE(6);
  let at = skipName(packet, 12) + 4;
  const addresses: string[] = [];
  for (let i = 0; i < answers; i++) {
    at = skipName(packet, at);
    const type = packet.readUInt16BE(at);
    const length = packet.readUInt16BE(at + 8);
    at += 10;
    if (type === TYPE_A && length === 4) addresses.push([...packet.subarray(at, at + 4)].join('.'));
    at += length;
  }
  return { rcode, addresses };
}

/** Asks `server:port` over UDP for the A records of `name` as if from `subnet`. */
export function queryA(
  server: string,
  port: number,
  name: string,
  subnet: string | null,
  timeoutMs = 2_000,
): Promise<string[]> {
  const { id, packet } = buildQuery(name, subnet);
  const socket = createSocket('udp4');
  return new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no answer from ${server}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('message', (reply) => {
      if (reply.length < 12 || reply.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      socket.close();
      try {
        resolve(parseAnswers(reply).addresses);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.send(packet, port, server);
  });
}
