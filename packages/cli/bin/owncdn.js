#!/usr/bin/env node
// The published entry point: the bundled CLI (dist/bundle/, built by `pnpm build`;
// see scripts/build.mjs). dist/main.js is the same program unbundled: it runs
// when there is no bundle, or in a checkout where `tsc -b` compiled a package
// after the bundle was made (a stale bundle would run old code).
import { statSync } from 'node:fs';
import module from 'node:module';

// Node ≥ 22.1 keeps V8's compiled code between runs (in the OS temp dir;
// NODE_DISABLE_COMPILE_CACHE=1 turns it off): ~30 ms less start-up. Node 20 has no such API.
module.enableCompileCache?.();

const mtime = (path) =>
  statSync(new URL(path, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? 0;
const bundled = mtime('../dist/bundle/main.js');
const compiled = ['core', 'origin', 'geodns', 'certd', 'sync', 'cli'].map((p) =>
  mtime(`../../${p}/dist/.tsbuildinfo`),
);
const { main } =
  bundled > 0 && compiled.every((t) => t <= bundled)
    ? await import('../dist/bundle/main.js')
    : await import('../dist/main.js');

await main(process.argv);
