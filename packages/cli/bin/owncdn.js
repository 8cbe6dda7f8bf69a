#!/usr/bin/env node
// The published entry point: the bundled CLI (dist/bundle/, built by `pnpm build`;
// see scripts/build.mjs). dist/main.js is the same program unbundled: it runs
// when there is no bundle, or in a checkout where `tsc -b` compiled a package
// after the bundle was made (a stale bundle would run old code).
import { statSync } from 'node:fs';

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
