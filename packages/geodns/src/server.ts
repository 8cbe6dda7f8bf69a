import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { lookup } from 'node:dns';
import type { LookupOneOptions } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { OwncdnError } from '@owncdn/core';
import type { Responder } from './respond.js';

/**
 * The DNS sockets: UDP and TCP on each listen address, the same port for
 * both. TCP follows RFC 7766: two-byte length framing, any number of
 * queries per connection (pipelined ones answered in order), idle timeout.
 */

/** Asks the kernel for a larger UDP receive buffer so bursts are queued rather than lost. */
const UDP_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/** With port 0, attempts at finding a port free for both UDP and TCP. */
const PORT_ZERO_ATTEMPTS = 20;
/** Replies a TCP client may leave unread before it is cut off (a few hundred answers). */
const MAX_TCP_UNREAD_BYTES = 256 * 1024;
/** Concurrent TCP connections per listener; more are refused until some close. */
const MAX_TCP_CONNECTIONS = 1024;

export interface DnsListeners {
  /** Bound addresses as `host:port` (`[v6]:port`), one per listen entry (UDP and TCP share it). */
  readonly addresses: readonly string[];
  close(): Promise<void>;
}

/** `127.0.0.1:53` / `[::1]:53` / `:53` → host and port. Throws OWNCDN_DNS_LISTEN_FAILED on nonsense. */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535)
    throw new OwncdnError(
      'OWNCDN_DNS_LISTEN_FAILED',
      `${JSON.stringify(text)} is not an address (expected host:port, e.g. 127.0.0.1:5353 or [::1]:53)`,
    );
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Binds every listen address (UDP first, then TCP on the port UDP got). */
export async function listenDns(
  listen: readonly string[],
  responder: Responder,
  options: { tcpIdleTimeoutMs: number },
): Promise<DnsListeners> {
  const udpSockets: UdpSocket[] = [];
  const tcpServers: Server[] = [];
  const connections = new Set<Socket>();
  const addresses: string[] = [];
  const close = async () => {
    for (const socket of connections) socket.destroy();
    await Promise.all([
      ...udpSockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      ...tcpServers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ]);
  };
  try {
    for (const entry of listen) {
      const { host, port } = parseHostPort(entry);
      for (let attempt = 1; ; attempt++) {
        const udp = await bindUdp(host, port, responder);
        const bound = udp.address().port;
        try {
          tcpServers.push(
            await listenTcp(host, bound, responder, options.tcpIdleTimeoutMs, connections),
          );
        } catch (error) {
          await new Promise<void>((resolve) => udp.close(() => resolve()));
          // Port 0: the port UDP got can be taken for TCP (an outgoing connection's ephemeral port); try another.
          if (port === 0 && attempt < PORT_ZERO_ATTEMPTS && isAddressInUse(error)) continue;
          throw error;
        }
        udpSockets.push(udp);
        addresses.push(formatHostPort(host, bound));
        break;
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { addresses, close };
}

/**
 * dgram resolves the destination of every send, even an IP literal, through
 * dns.lookup and a process.nextTick; replies always go to the literal the
 * query came from, so answer those at once (names still go to dns.lookup).
 */
function literalLookup(
  hostname: string,
  options: LookupOneOptions | number,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = isIP(hostname);
  if (family !== 0) {
    callback(null, hostname, family);
    return;
  }
  lookup(hostname, typeof options === 'number' ? { family: options } : options, callback);
}

function isAddressInUse(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.cause instanceof Error &&
    (error.cause as NodeJS.ErrnoException).code === 'EADDRINUSE'
  );
}

function bindUdp(host: string, port: number, responder: Responder): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({
      type: isIPv6(host) ? 'udp6' : 'udp4',
      ipv6Only: isIPv6(host),
      lookup: literalLookup,
    });
    const onError = (error: NodeJS.ErrnoException) => {
      socket.close();
      reject(
        new OwncdnError(
          'OWNCDN_DNS_LISTEN_FAILED',
          `cannot listen on udp ${formatHostPort(host, port)}: ${error.code ?? error.message}${error.code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}`,
          { cause: error },
        ),
      );
    };
    socket.once('error', onError);
    socket.on('message', (msg, rinfo) => {
      const reply = responder.answer(msg, msg.length, rinfo.address, true);
      if (reply !== null) socket.send(reply, rinfo.port, rinfo.address);
    });
    socket.bind(port, host, () => {
      socket.off('error', onError);
      socket.on('error', () => {
        // A send to an unreachable client surfaces here (ICMP); nothing to do for one lost reply.
      });
      try {
        socket.setRecvBufferSize(UDP_RECEIVE_BUFFER_BYTES);
      } catch {
        // The kernel caps it at net.core.rmem_max; the default buffer still works.
      }
      resolve(socket);
    });
  });
}

function listenTcp(
  host: string,
  port: number,
  responder: Responder,
  idleMs: number,
  connections: Set<Socket>,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true }, (socket) =>
      serveTcp(socket, responder, idleMs, connections),
    );
    server.maxConnections = MAX_TCP_CONNECTIONS;
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new OwncdnError(
          'OWNCDN_DNS_LISTEN_FAILED',
          `cannot listen on tcp ${formatHostPort(host, port)}: ${error.code ?? error.message}`,
          { cause: error },
        ),
      );
    });
    server.listen({ host, port, ipv6Only: isIPv6(host) }, () => resolve(server));
  });
}

function serveTcp(
  socket: Socket,
  responder: Responder,
  idleMs: number,
  connections: Set<Socket>,
): void {
  responder.metrics.tcpConnections++;
  connections.add(socket);
  const address = socket.remoteAddress ?? '';
  let pending: Buffer = Buffer.alloc(0);
  // RFC 7766 §6.2.3: close idle connections, the server's resource to protect.
  socket.setTimeout(idleMs, () => socket.destroy());
  socket.on('close', () => connections.delete(socket));
  socket.on('error', () => {
    // A reset by the client; 'close' follows and cleans up.
  });
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (pending.length < 2 + length) break;
      const message = pending.subarray(2, 2 + length);
      pending = pending.subarray(2 + length);
      const reply = responder.answer(message, length, address, false);
      if (reply === null) {
        // Nothing sensible to answer (a response, or no header): the stream cannot be trusted further.
        socket.destroy();
        return;
      }
      const frame = Buffer.allocUnsafe(2 + reply.length);
      frame.writeUInt16BE(reply.length, 0);
      reply.copy(frame, 2);
      socket.write(frame);
      // A client that sends and never reads would make us buffer without bound.
      if (socket.writableLength > MAX_TCP_UNREAD_BYTES) {
        socket.destroy();
        return;
      }
    }
  });
}
