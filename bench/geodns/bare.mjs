// The ceiling for a Node DNS server (NOTES.md): a node:dgram responder that
// holds one prebuilt reply and only patches the ID. No parsing, no lookup.
// Usage: node bare.mjs <port> [workers]; prints "listening <port>" when ready.
import cluster from 'node:cluster';
import { createSocket } from 'node:dgram';

const port = Number(process.argv[2] ?? 0);
const workers = Number(process.argv[3] ?? 1);

// example.org A 127.0.0.11, TTL 30, AA.
const REPLY = Buffer.from(
  '000084000001000100000000076578616d706c65036f72670000010001c00c000100010000001e00047f00000b',
  'hex',
);

function serve() {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const out = Buffer.allocUnsafe(REPLY.length);
    REPLY.copy(out);
    out[0] = msg[0];
    out[1] = msg[1];
    socket.send(out, rinfo.port, rinfo.address);
  });
  socket.bind(port, '127.0.0.1', () => {
    try {
      socket.setRecvBufferSize(4 * 1024 * 1024);
    } catch {
      // Capped by net.core.rmem_max: the default still works.
    }
    if (cluster.isWorker) process.send?.('listening');
    else console.log(`listening ${socket.address().port}`);
  });
}

if (workers > 1 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', () => {
      if (++ready === workers) console.log(`listening ${port}`);
    });
  }
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
} else {
  serve();
}
