// sirv (the static handler behind polka/SvelteKit previews) on node:http,
// serving .gz siblings. Run by run.mjs as an anchor.
// Usage: node sirv-server.mjs <dir> <port> <workers>
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [dir = '.', port = '8080', workersText = '1'] = process.argv.slice(2);
const workers = Number(workersText);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// sirv is a devDependency of @owncdn/origin, resolved from there.
const require = createRequire(join(ROOT, 'packages/origin/package.json'));
const { default: sirv } = await import(pathToFileURL(require.resolve('sirv')).href);

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
  createServer(sirv(dir, { etag: true, gzip: true, dev: false })).listen(
    Number(port),
    '127.0.0.1',
    () => {
      if (workers <= 1) console.log('listening');
    },
  );
}
