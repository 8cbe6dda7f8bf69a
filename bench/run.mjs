#!/usr/bin/env node
// `pnpm bench`: runs every benchmark (bench/<name>/run.mjs) one after the
// other, so none disturbs another, then writes bench/results/README.md: the
// machine, the date, and each benchmark's table. Each benchmark skips the
// anchors that are not installed (bench/install-anchors.sh installs them).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const RESULTS = join(BENCH, 'results');
const NAMES = ['origin', 'geodns', 'sync'];

const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = only.length > 0 ? NAMES.filter((n) => only.includes(n)) : NAMES;
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('-'));

mkdirSync(RESULTS, { recursive: true });
execFileSync(
  process.execPath,
  [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json'],
  { cwd: ROOT, stdio: 'inherit' },
);

const failed = [];
for (const name of names) {
  const script = join(BENCH, name, 'run.mjs');
  if (!existsSync(script)) {
    console.log(`bench ${name}: not written yet (${script} is missing), skipped`);
    continue;
  }
  console.log(`\n=== bench ${name}`);
  const result = spawnSync(process.execPath, [script, ...passThrough], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (result.status !== 0) failed.push(name);
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const sections = NAMES.map((name) => {
  const file = join(RESULTS, `${name}.md`);
  return existsSync(file)
    ? readFileSync(file, 'utf8').trim()
    : `## ${name}\n\nNo results yet: run \`pnpm bench ${name}\`.`;
});
const summary = `# owncdn benchmarks

Assembled by \`pnpm bench\` (bench/run.mjs) on ${new Date().toISOString().slice(0, 10)} (${cpus().length} × ${cpu},
${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}) from each benchmark's latest results,
bench/results/<name>.md: each section names the date and machine of its own run (\`pnpm bench sync\`
reruns one). owncdn and its anchors run side by side in one run, on loopback, with the load generator
on the same cores; absolute figures move ±15 % from run to run, and more between machines, so compare
the ratios. Each benchmark's method is in bench/<name>/README.md.

${sections.join('\n\n')}
`;
writeFileSync(join(RESULTS, 'README.md'), summary);
console.log(`\nwrote ${join(RESULTS, 'README.md')}`);
if (failed.length > 0) {
  console.error(`benchmarks that failed: ${failed.join(', ')}`);
  process.exit(1);
}
