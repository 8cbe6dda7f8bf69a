#!/usr/bin/env node
// Builds owncdn: `tsc -b` compiles every package to dist/ (what the tests and
// the cluster workers run), then esbuild bundles the `owncdn` program
// (packages/cli/dist/main.js and everything it imports) into
// packages/cli/dist/bundle/, which bin/owncdn.js loads.
//
// Why a bundle: Node 20 loads ~270 small ES modules for any command (zod,
// yaml, pino, commander and our own), ~0.15 s of CPU before the command
// starts; one file and a few chunks load in a fraction of that. Code a
// command loads on use (`import()`: execa, undici, the demo, origin, geodns,
// certd) stays in chunks of its own, loaded only when used. Cluster workers
// are not bundled: they are forked from each package's dist/worker.js.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'packages/cli/dist/bundle');

execFileSync(
  process.execPath,
  [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json'],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);

rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: { main: join(ROOT, 'packages/cli/dist/main.js') },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // Flat: code locating files relative to itself (the demo finds
  // ../../bin/owncdn.js) sees the same depth as in dist/.
  chunkNames: '[name]-[hash]',
  // CommonJS dependencies bundled into ES modules still call require() for
  // Node's own modules: give every output file a real one.
  banner: {
    js: "import { createRequire as __owncdnCreateRequire } from 'node:module'; const require = __owncdnCreateRequire(import.meta.url);",
  },
  // Required at run time by name, relative to packages/cli (on a terminal only).
  external: ['pino-pretty'],
  logLevel: 'warning',
  legalComments: 'none',
});
