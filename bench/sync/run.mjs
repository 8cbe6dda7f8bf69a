#!/usr/bin/env node
// bench/sync: `owncdn sync push` against the xargs/rsync one-liner it replaces
// (issue 6), to three nodes over a real sshd on loopback. Sites: 2,000 files
// of 1–50 KiB, and 20,000 small files. Scenarios: first push, push after one
// changed file, push after touching every file (a fresh git checkout).
// `--quick`: 500 and 5,000 files, to prove the harness on a busy machine.
// Sites and nodes live on a loop-mounted ext4 with a journal when run as root
// (scratch-fs.mjs says why). Writes bench/results/sync.md. Needs dist/ built
// (pnpm build).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mountScratch } from './scratch-fs.mjs';
import { startSshd } from './sshd.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OWNCDN = join(ROOT, 'packages/cli/bin/owncdn.js');
const quick = process.argv.includes('--quick');
const NODES = ['au', 'us', 'fr'];
/** The two tools, and owncdn with ssh's default cipher (first pushes only). */
const TOOLS = ['one-liner', 'owncdn', 'owncdn-default-cipher'];
/** Timed one-file publishes in the steady state; the median is reported. */
const STEADY_RUNS = 5;
/** First pushes per tool, in alternating order, each to empty nodes; the median is reported. */
const FIRST_RUNS = 5;
const SITES = quick
  ? [
      { name: '500 files of 1–50 KiB', files: 500, minBytes: 1024, maxBytes: 50 * 1024 },
      { name: '5,000 small files', files: 5_000, minBytes: 200, maxBytes: 2_000 },
    ]
  : [
      { name: '2,000 files of 1–50 KiB', files: 2_000, minBytes: 1024, maxBytes: 50 * 1024 },
      { name: '20,000 small files', files: 20_000, minBytes: 200, maxBytes: 2_000 },
    ];

/** Deterministic pseudo-random content (xorshift), so runs compare. */
function makeSite(dir, site) {
  let x = 2463534242;
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  for (let i = 0; i < site.files; i++) {
    const size = site.minBytes + (next() % (site.maxBytes - site.minBytes));
    const bytes = Buffer.alloc(size);
    for (let j = 0; j < size; j += 4) bytes.writeUInt32LE(next(), Math.min(j, size - 4));
    const path = join(dir, `d${i % 50}`, `f${i}.html`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
  }
}

/**
 * Children still running, each in its own process group (the one-liner is sh,
 * xargs and three rsyncs): stopped with the bench, which a SIGINT sent to it
 * alone would otherwise leave running.
 */
const running = new Set();

function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      ...options,
    });
    running.add(child);
    child.once('exit', () => running.delete(child));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
    child.once('error', reject);
    child.once('close', (status) => {
      if (status !== 0)
        reject(new Error(`${command} ${args.join(' ')} exited ${status}: ${stderr}`));
      else resolve({ stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** The one-liner from issue 6, each host into its own directory (all "hosts" are this machine); --stats to count bytes (-h: units of 1000). */
async function oneLiner(site, sshConfig, base) {
  const script = `printf "au\\nus\\nfr\\n" | xargs -P 0 -I {host} sh -c 'rsync -azhP --delete --stats -e "ssh -F ${sshConfig}" ${site}/ {host}:${base}/{host}/content/ > ${base}/{host}.log; date +%s%N > ${base}/{host}.end'`;
  const { ms } = await run('sh', ['-c', script]);
  let bytes = 0;
  const ends = [];
  for (const host of NODES) {
    const log = readFileSync(join(base, `${host}.log`), 'utf8');
    const match = /Total bytes sent: ([\d,.]+)([KMG]?)/.exec(log);
    const unit = { '': 1, K: 1e3, M: 1e6, G: 1e9 }[match?.[2] ?? ''] ?? 1;
    bytes += Math.round(Number((match?.[1] ?? '0').replaceAll(',', '')) * unit);
    ends.push(Number(readFileSync(join(base, `${host}.end`), 'utf8')) / 1e6);
  }
  return { ms, bytes, skewMs: Math.max(...ends) - Math.min(...ends) };
}

/** One `owncdn sync push`; `cache` is its XDG_CACHE_HOME (each owncdn variant has its own). */
async function owncdnPush(configFile, site, cache) {
  const { stdout, ms } = await run(
    process.execPath,
    [
      OWNCDN,
      'sync',
      'push',
      '-c',
      configFile,
      '--content',
      site,
      '--json',
      '--log-level',
      'silent',
    ],
    { env: { ...process.env, XDG_CACHE_HOME: cache } },
  );
  const result = JSON.parse(stdout);
  if (!result.ok) throw new Error(`push failed: ${result.error?.message}`);
  return {
    ms,
    bytes: result.nodes.reduce((sum, n) => sum + n.bytesSent, 0),
    skewMs: result.switchSkewMs ?? 0,
    uploads: [...new Set(result.nodes.map((n) => n.upload))].join('+'),
  };
}

/** The run with the median time, with the range. */
function median(runs) {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return { ...sorted[Math.floor(sorted.length / 2)], minMs: sorted[0].ms, maxMs: sorted.at(-1).ms };
}

/** The median of `n` runs, each after a fresh one-file change. */
async function medianOf(n, change, push) {
  const runs = [];
  for (let i = 0; i < n; i++) {
    change(i);
    runs.push(await push());
  }
  return median(runs);
}

/**
 * ssh's own cipher list (no configuration): the `owncdn-default-cipher` runs
 * name it in `ssh.options`, which turns off owncdn's AES-GCM preference, so
 * the table shows what that preference is worth.
 */
const SSH_DEFAULT_CIPHERS = /^ciphers (\S+)$/m.exec(
  execFileSync('ssh', ['-F', '/dev/null', '-G', 'localhost'], { encoding: 'utf8' }),
)?.[1];

function writeConfig(file, sshConfig, roots, sshOptions = []) {
  const nodes = NODES.map(
    (name, i) =>
      `  - { name: ${name}, ipv4: 127.0.0.${11 + i}, continents: [${['OC', 'NA', 'EU'][i]}], default: ${i === 0}, ssh: ${name}, root: ${roots[name]}, http: 1 }`,
  );
  writeFileSync(
    file,
    [
      'site: { domain: example.test, names: [example.test] }',
      'nodes:',
      ...nodes,
      `ssh: { config: ${sshConfig}, options: ${JSON.stringify(sshOptions)} }`,
      'dns: { nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.53 }] }',
      'certd: { email: null }',
      'sync: { confirmTimeout: 1s }',
      '',
    ].join('\n'),
  );
}

function touchAll(dir) {
  const now = new Date();
  for (const line of execFileSync('find', [dir, '-type', 'f'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  }).split('\n')) {
    if (line) utimesSync(line, now, now);
  }
}

const work = mkdtempSync(join(tmpdir(), 'owncdn-bench-sync-'));
const scratch = mountScratch(work);
const sshd = await startSshd(join(work, 'sshd'), NODES);
const cleanUp = async () => {
  for (const child of running) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // gone meanwhile
    }
  }
  await Promise.all(
    [...running].map((child) => new Promise((resolve) => child.once('exit', resolve))),
  );
  await sshd.stop();
  scratch.unmount();
  rmSync(work, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => cleanUp().finally(() => process.exit(130)));
/** Median of five runs of `command`, ms: how fast this machine is right now (a VM's speed varies by the hour). */
function reference(command, args) {
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    execFileSync(command, args, { stdio: 'ignore' });
    runs.push(performance.now() - started);
  }
  return runs.sort((a, b) => a - b)[2];
}
const machine = {
  node: reference(process.execPath, ['-e', '0']),
  ssh: reference('ssh', ['-F', sshd.clientConfig, NODES[0], 'true']),
};
const rows = [];
try {
  for (const site of SITES) {
    console.log(`site: ${site.name}`);
    // Per tool: its own copy of the site (owncdn sets content times in its
    // copy), nodes and config.
    const tools = {};
    for (const tool of TOOLS) {
      const src = join(scratch.path, `${tool}-site`);
      rmSync(src, { recursive: true, force: true });
      makeSite(src, site);
      const base = join(scratch.path, `${tool}-nodes`);
      const roots = Object.fromEntries(NODES.map((n) => [n, join(base, n)]));
      const configFile = join(work, `${tool}.yaml`);
      // Its own cache: a push prunes the release manifests its nodes no longer hold.
      const cache = join(scratch.path, `${tool}-cache`);
      writeConfig(
        configFile,
        sshd.clientConfig,
        roots,
        tool === 'owncdn-default-cipher' ? [`Ciphers=${SSH_DEFAULT_CIPHERS}`] : [],
      );
      // Dirty pages flushed before each timed push (for both tools): writeback
      // of the previous step's files would otherwise land in the timed one.
      const push = () => {
        execFileSync('sync');
        return tool === 'one-liner'
          ? oneLiner(src, sshd.clientConfig, base)
          : owncdnPush(configFile, src, cache);
      };
      /** Empty nodes, and for owncdn no caches and a fresh checkout's mtimes: a first push. */
      const reset = () => {
        rmSync(base, { recursive: true, force: true });
        for (const root of Object.values(roots)) mkdirSync(root, { recursive: true });
        if (tool !== 'one-liner') {
          rmSync(cache, { recursive: true, force: true });
          touchAll(src);
        }
      };
      tools[tool] = { src, push, reset };
    }
    // First pushes in rotating order (one-liner first, then owncdn first, …):
    // a machine that slows down for a while slows every tool alike.
    const firsts = Object.fromEntries(TOOLS.map((tool) => [tool, []]));
    for (let round = 0; round < FIRST_RUNS; round++) {
      const order = TOOLS.map((_, i) => TOOLS[(i + round) % TOOLS.length]);
      for (const tool of order) {
        tools[tool].reset();
        firsts[tool].push(await tools[tool].push());
      }
      console.log(
        `first push ${round + 1}/${FIRST_RUNS}: ${TOOLS.map((t) => `${t} ${(firsts[t].at(-1).ms / 1000).toFixed(2)} s`).join(', ')}`,
      );
    }
    const defaultCipher = median(firsts['owncdn-default-cipher']);
    const results = {};
    for (const tool of ['one-liner', 'owncdn']) {
      const { src, push } = tools[tool];
      // Each tool's nodes hold its last first push.
      const first = { ...median(firsts[tool]), runs: firsts[tool].map((r) => r.ms) };
      // One changed file while a node keeps fewer than sync.keep (5) releases,
      // so owncdn makes a new tree each time: pushes 2, 4 and 5 (3 touches
      // every file), the median reported.
      const newTree = [];
      const changeOne = (what) =>
        writeFileSync(join(src, 'd7', 'f7.html'), `${what} at ${Date.now()}`);
      changeOne('changed');
      newTree.push(await push());
      touchAll(src);
      const touched = await push();
      for (let i = 0; i < 2; i++) {
        changeOne(`new tree ${i}`);
        newTree.push(await push());
      }
      const oneFile = median(newTree);
      // Steady state: a node that already keeps 5 releases, as after a few
      // days of publishing. One more publish (not timed) gets there.
      changeOne('warm-up');
      await push();
      // Five timed publishes of one changed file; the median is reported (this VM is noisy).
      const steady = await medianOf(STEADY_RUNS, (i) => changeOne(`steady ${i}`), push);
      results[tool] = { first, oneFile, touched, steady };
      console.log(tool, JSON.stringify(results[tool]));
    }
    rows.push({ site, ...results, defaultCipher });
    for (const tool of Object.keys(tools)) {
      rmSync(join(scratch.path, `${tool}-site`), { recursive: true, force: true });
      rmSync(join(scratch.path, `${tool}-nodes`), { recursive: true, force: true });
    }
  }
} finally {
  await cleanUp();
}

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mib = (bytes) =>
  bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
const lines = [
  '## sync',
  '',
  `\`node bench/sync/run.mjs${quick ? ' --quick' : ''}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, ${execFileSync('rsync', ['--version'], { encoding: 'utf8' }).split('\n')[0]}.`,
  'Three nodes over one private sshd on 127.0.0.1 (each `owncdn sync push` is a fresh `node` process opening three fresh ControlMasters; each one-liner rsync a fresh ssh connection).',
  `Files: ${scratch.note}. \`sync\` before every timed push, for both tools.`,
  `This machine at the start (median of 5): \`node -e 0\` ${machine.node.toFixed(0)} ms, one ssh connection and command (\`ssh au true\`) ${machine.ssh.toFixed(0)} ms; on a quiet day here these were ~80 and ~225 ms.`,
  'The one-liner is issue 6\'s `printf "au\\nus\\nfr\\n" | xargs -P 0 -I {host} rsync -azhP --delete content/ {host}:…/content/` (plus `--stats`): in place, no atomic switch.',
  "owncdn: content hash (digests cached between pushes), content-derived mtimes, upload into a tree (`trees/<n>`: while a node keeps fewer than `sync.keep` = 5 releases a new one, copied on the node from the current release's with hard links (`cp -al`; behind rrsync rsync would build it with `--link-dest`), else the tree of the release retention retires, either updated in place: rsync gets only the names that differ from the recorded manifest of the release the tree held), the `releases/<id>` link, prepared switch on all nodes, /healthz confirmation (no origin running: answered at once), retention.",
  `"first push": ${FIRST_RUNS} rounds, the tools taking turns to go first, each to empty nodes (owncdn: no caches, every mtime new, as after a fresh clone); the median of each tool, and the spread of the per-round ratios in the goals below. The other scenarios continue from each tool's last first push.`,
  `"one changed file" is the median of the 2nd, 4th and 5th push (the 3rd touches every file), while the node holds fewer than \`sync.keep\` releases, so each makes a new tree; "5 releases kept" is the same change once the node holds \`sync.keep\` releases (after one more publish, not timed), the state of any site published for more than a few days: the median of ${STEADY_RUNS} publishes for both tools (ranges in the goals below).`,
  `"…, owncdn with ssh's default cipher": the same first pushes, in the same rotation, with \`ssh.options: [Ciphers=${SSH_DEFAULT_CIPHERS}]\`, which turns off owncdn's AES-GCM preference (the one-liner uses ssh's default, ChaCha20-Poly1305, first in that list).`,
  "Bytes are the sum over the three nodes as rsync counts them; skew is the spread between the nodes' switches (owncdn) or the rsyncs' ends (one-liner: the window in which nodes serve different versions).",
  '',
];
if (quick)
  lines.push(
    '**Quick mode on a busy machine (other work sharing the 2 cores): these numbers prove the harness works; they are not the figures to judge by.**',
    '',
  );
lines.push(
  '| site | scenario | one-liner time | owncdn time | time ratio | one-liner bytes | owncdn bytes | owncdn skew | one-liner end spread |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
);
for (const row of rows) {
  for (const [key, label] of [
    ['first', 'first push'],
    ['oneFile', 'one changed file, new tree'],
    ['touched', 'every file touched'],
    ['steady', 'one changed file, 5 releases kept'],
  ]) {
    const a = row['one-liner'][key];
    for (const [b, what] of [
      [row.owncdn[key], label],
      ...(key === 'first'
        ? [[row.defaultCipher, `${label}, owncdn with ssh's default cipher`]]
        : []),
    ])
      lines.push(
        `| ${row.site.name} | ${what} | ${s(a.ms)} | ${s(b.ms)} | ${(b.ms / a.ms).toFixed(2)}× | ${mib(a.bytes)} | ${mib(b.bytes)} | ${b.skewMs.toFixed(1)} ms | ${a.skewMs.toFixed(0)} ms |`,
      );
  }
}
const big = rows.at(-1);
lines.push(
  '',
  'Goals (issue 6):',
  ...rows.map((r) => {
    const a = r['one-liner'].first;
    const b = r.owncdn.first;
    const ratios = b.runs.map((ms, i) => ms / a.runs[i]).sort((x, y) => x - y);
    return `- full push within 1.15× of the one-liner (${r.site.name}): ${(b.ms / a.ms).toFixed(2)}× (medians of ${FIRST_RUNS}: ${s(b.ms)} against ${s(a.ms)}; per round ${ratios[0].toFixed(2)}–${ratios.at(-1).toFixed(2)}×); ${(r.defaultCipher.ms / a.ms).toFixed(2)}× with ssh's default cipher`;
  }),
  `- one-file push under 1.5 s for ${big.site.name}: ${s(big.owncdn.steady.ms)} with 5 releases kept (median of ${STEADY_RUNS}, ${s(big.owncdn.steady.minMs)}–${s(big.owncdn.steady.maxMs)}; upload: ${big.owncdn.steady.uploads}); ${s(big.owncdn.oneFile.ms)} while a node keeps fewer (a new tree each: median of 3, ${s(big.owncdn.oneFile.minMs)}–${s(big.owncdn.oneFile.maxMs)}; upload: ${big.owncdn.oneFile.uploads})`,
  ...rows.map(
    (r) =>
      `- touch-everything push sends < 1% of the bytes (${r.site.name}): ${((100 * r.owncdn.touched.bytes) / r.owncdn.first.bytes).toFixed(2)}% of owncdn's first push`,
  ),
  `- switch skew under 100 ms: ${Math.max(...rows.flatMap((r) => [r.owncdn.first.skewMs, r.owncdn.oneFile.skewMs, r.owncdn.steady.skewMs])).toFixed(1)} ms at most`,
  '',
);
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/sync.md'), lines.join('\n'));
console.log(lines.join('\n'));
