import { createServer } from 'node:net';

/**
 * A port that was free a moment ago on `host`, for programs we do not control
 * (pebble, sshd) that must be told a port up front. Our own servers listen on
 * port 0 and report their address instead, which has no race.
 */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A port free on every one of `hosts` (e.g. the three node addresses), so one number serves them all. */
export async function findPortFreeOnAll(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await findFreePort(hosts[0]);
    if (await Promise.all(hosts.slice(1).map((h) => isFree(h, port))).then((r) => r.every(Boolean)))
      return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')} after 20 attempts`);
}

function isFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
