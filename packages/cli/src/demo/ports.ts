import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

function isTcpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function isUdpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, host, () => socket.close(() => resolve(true)));
  });
}

async function randomTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * A port free (TCP, and UDP when `udp`) on every one of `hosts`: `preferred`
 * when it is free, so commands in the tour stay the same from run to run,
 * else one the kernel hands out. The services are then told this port; the
 * window between this check and their bind is the demo's only race.
 */
export async function pickPort(
  hosts: readonly string[],
  preferred: number,
  options: { udp?: boolean; avoid?: ReadonlySet<number> } = {},
): Promise<number> {
  const free = async (port: number) => {
    if (options.avoid?.has(port)) return false;
    for (const host of hosts) {
      if (!(await isTcpFree(host, port))) return false;
      if (options.udp && !(await isUdpFree(host, port))) return false;
    }
    return true;
  };
  if (await free(preferred)) return preferred;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await randomTcpPort(hosts[0] ?? '127.0.0.1');
    if (await free(port)) return port;
  }
  throw new Error(`no port is free on all of ${hosts.join(', ')}`);
}
