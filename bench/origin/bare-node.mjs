// The ceiling for any Node server: node:http answering a Buffer from a Map,
// with only Content-Type and Content-Length. Run by run.mjs as an anchor.
// Usage: node bare-node.mjs <dir> <port> <workers>
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const [dir = '.', port = '8080', workersText = '1'] = process.argv.slice(2);
const workers = Number(workersText);

if (cluster.isPrimary && workers > 1) {
  let ready = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++ready === workers) console.log('listening');
  });
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exitCode = 0;
  });
} else {
  const file = (name, type) => ({ body: readFileSync(join(dir, name)), type });
  const files = new Map([
    ['/index.html', file('index.html', 'text/html; charset=utf-8')],
    ['/asset.3f9a2c1e.js', file('asset.3f9a2c1e.js', 'text/javascript; charset=utf-8')],
  ]);
  const gzipped = file('index.html.gz', 'text/html; charset=utf-8');
  createServer((req, res) => {
    let entry = files.get(req.url);
    if (entry === undefined) {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
      return;
    }
    const gzip =
      req.url === '/index.html' && (req.headers['accept-encoding'] ?? '').includes('gzip');
    if (gzip) entry = gzipped;
    const headers = { 'content-type': entry.type, 'content-length': entry.body.length };
    if (gzip) headers['content-encoding'] = 'gzip';
    res.writeHead(200, headers);
    res.end(entry.body);
  }).listen(Number(port), '127.0.0.1', () => {
    if (workers <= 1) console.log('listening');
  });
}
