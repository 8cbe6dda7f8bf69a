#!/usr/bin/env node
// Which change detection `owncdn sync push` uses (issue 6 asks to measure):
// rsync --checksum (reads every file on both sides, every push) against
// content-derived mtimes (owncdn hashes the site once, sets each file's mtime
// from its hash; rsync then compares size+mtime without reading). Three nodes
// over a private sshd on loopback; library calls, so node start-up is left out.
// `--quick`: 500 files instead of 2,000. Prints a Markdown table.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSshd } from './sshd.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { push } = await import(join(ROOT, 'packages/sync/dist/index.js'));
const { parseConfig } = await import(join(ROOT, 'packages/core/dist/index.js'));
const FILES = process.argv.includes('--quick') ? 500 : 2_000;
const NODES = ['au', 'us', 'fr'];

const work = mkdtempSync(join(tmpdir(), 'owncdn-bench-detect-'));
const sshd = await startSshd(join(work, 'sshd'), NODES);
const rows = [];
try {
  for (const detect of ['checksum', 'content-mtime']) {
    const site = join(work, `site-${detect}`);
    let x = 88172645;
    const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
    for (let i = 0; i < FILES; i++) {
      const path = join(site, `d${i % 40}`, `f${i}.html`);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, Buffer.alloc(1024 + (next() % (49 * 1024)), String(i)));
    }
    const nodes = NODES.map(
      (n, i) =>
        `  - { name: ${n}, ipv4: 127.0.0.${11 + i}, continents: [${['OC', 'NA', 'EU'][i]}], default: ${i === 0}, ssh: ${n}, root: ${join(work, detect, n)}, http: 1 }`,
    );
    const config = parseConfig(
      [
        'site: { domain: example.test, names: [example.test] }',
        'nodes:',
        ...nodes,
        `ssh: { config: ${sshd.clientConfig} }`,
        'dns: { nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.53 }] }',
        'certd: { email: null }',
        'sync: { confirmTimeout: 1s }',
      ].join('\n'),
      join(work, 'owncdn.yaml'),
    );
    const timed = async () => {
      const started = performance.now();
      const result = await push(config, { content: site, detect });
      if (!result.ok) throw new Error(result.error?.message);
      return {
        ms: performance.now() - started,
        bytes: result.nodes.reduce((s, n) => s + n.bytesSent, 0),
        linked: result.nodes[0].filesTotal - result.nodes[0].filesTransferred,
      };
    };
    const first = await timed();
    writeFileSync(join(site, 'd3', 'f3.html'), `changed ${Date.now()}`);
    const oneFile = await timed();
    const now = new Date();
    for (let i = 0; i < FILES; i++) utimesSync(join(site, `d${i % 40}`, `f${i}.html`), now, now);
    writeFileSync(join(site, 'd4', 'f4.html'), `changed ${Date.now()}`);
    const touched = await timed();
    rows.push({ detect, first, oneFile, touched });
    console.error(detect, JSON.stringify({ first, oneFile, touched }));
  }
} finally {
  await sshd.stop();
  rmSync(work, { recursive: true, force: true });
}
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const out = [
  '## sync: change detection',
  '',
  `\`node bench/sync/detect.mjs\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC (library calls, three nodes over a private sshd on loopback, busy 2-core machine).`,
  '',
];
const log = (line) => {
  out.push(line);
  console.log(line);
};
log(
  `| detect (${FILES} files of 1–50 KiB, 3 nodes) | first push | one changed file | every file touched + one changed | bytes sent after touch |`,
);
log('| --- | --- | --- | --- | --- |');
for (const r of rows)
  log(
    `| ${r.detect} | ${s(r.first.ms)} | ${s(r.oneFile.ms)} | ${s(r.touched.ms)} | ${(r.touched.bytes / 1024).toFixed(1)} KiB |`,
  );
writeFileSync(join(ROOT, 'bench/results/sync-detect.md'), `${out.join('\n')}\n`);
