#!/usr/bin/env node
// bench/origin: owncdn origin against nginx, Caddy, sirv and a bare node:http
// server, on loopback, with wrk on the same cores (issue 3). Every server gets
// the same files and the same number of worker processes. Each case checks
// the response before timing it. Writes bench/results/origin.md.
//
//   node bench/origin/run.mjs [--quick] [--workers N] [--duration S] [--site-mib N]
//
// Anchors that are not installed are skipped with a message
// (bench/install-anchors.sh, or: apt-get install nginx caddy wrk).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { freePort } from '../ports.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');
const OWNCDN_BIN = join(ROOT, 'packages', 'cli', 'bin', 'owncdn.js');

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const index = args.indexOf(name);
  return index === -1 ? fallback : Number(args[index + 1]);
};
const quick = args.includes('--quick');
const workers = flag('--workers', availableParallelism());
const durationS = flag('--duration', quick ? 3 : 10);
const warmS = quick ? 1 : 2;
const siteMiB = flag('--site-mib', quick ? 4 : 16);

function has(program) {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!has('wrk')) {
  console.error('bench origin: wrk is not installed (apt-get install wrk); nothing measured');
  process.exit(1);
}

// ---------- the site: a 4 KiB page, a 100 KiB asset, and filler so memory means something
const work = mkdtempSync(join(tmpdir(), 'owncdn-bench-origin-'));
const site = join(work, 'site');
mkdirSync(join(site, 'posts'), { recursive: true });
const words =
  'static site served from memory by owncdn across regions with geodns and certificates '.split(
    ' ',
  );
const prose = (bytes, seed) => {
  let out = '';
  let i = seed;
  while (out.length < bytes) out += `${words[(i = (i * 7 + 3) % words.length)]} `;
  return out.slice(0, bytes);
};
const page = `<!doctype html><html><head><title>bench</title></head><body><main><p>${prose(4096 - 90, 1)}</p></main></body></html>\n`;
writeFileSync(join(site, 'index.html'), page);
writeFileSync(join(site, 'index.html.gz'), gzipSync(page, { level: 9 }));
// A minified bundle is mostly text with little repetition: half prose, half random base64.
const asset = `${prose(50 * 1024, 5)}${randomBytes(38 * 1024).toString('base64')}`.slice(
  0,
  100 * 1024,
);
writeFileSync(join(site, 'asset.3f9a2c1e.js'), asset);
const fillerCount = Math.ceil((siteMiB * 1024 * 1024) / (16 * 1024));
for (let i = 0; i < fillerCount; i++)
  writeFileSync(join(site, 'posts', `post-${i}.html`), `<p>${prose(16 * 1024 - 8, i)}</p>\n`);
// Flush the 16 MiB just written: the kernel's writeback otherwise lands ~30 s later, in the
// middle of the first server's runs, and only the first server's.
execFileSync('sync');
const siteBytes = readdirSync(site, { recursive: true }).reduce((sum, name) => {
  const path = join(site, String(name));
  try {
    return sum + readFileSync(path).length;
  } catch {
    return sum; // a directory
  }
}, 0);

// ---------- helpers
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { connection: 'close', ...headers } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function waitReady(port, child, name) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited (${child.exitCode}) before answering`);
    try {
      const r = await get(port, '/index.html');
      if (r.status === 200) return;
    } catch {
      // not listening yet: readiness is polled here, which is fine in a benchmark
    }
    await sleep(100);
  }
  throw new Error(`${name} did not answer within 30 s`);
}

/** Every PID of the process group (servers are started detached, as their own group). */
function groupPids(pgid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** VmRSS of each process of the group, MiB, lowest PID (the leader) first. */
function rssEachMiB(pgid) {
  const out = [];
  for (const pid of groupPids(pgid).sort((a, b) => a - b)) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      out.push(Number(match?.[1] ?? 0) / 1024);
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 8_000);
  await exited;
  clearTimeout(timer);
  // nginx workers and cluster workers may outlive the leader by a moment.
  for (let i = 0; i < 50 && groupPids(child.pid).length > 0; i++) await sleep(100);
}

function parseWrk(text) {
  const unit = (value, u) => Number(value) * (u === 'us' ? 1 : u === 'ms' ? 1_000 : 1_000_000);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const avg = /Latency\s+([\d.]+)(us|ms|s)\b/.exec(text);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(text);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const socketErrors = /Socket errors: (.*)/.exec(text);
  return {
    rps,
    avgUs: avg ? unit(avg[1], avg[2]) : NaN,
    p99Us: p99 ? unit(p99[1], p99[2]) : NaN,
    errors: Number(errors?.[1] ?? 0),
    socketErrors: socketErrors?.[1] ?? null,
  };
}

function wrk(port, path, { connections, threads, headers = [], seconds }) {
  const hdr = headers.flatMap((h) => ['-H', h]);
  const out = execFileSync(
    'wrk',
    [
      '-t',
      String(threads),
      '-c',
      String(connections),
      '-d',
      `${seconds}s`,
      '--latency',
      ...hdr,
      `http://127.0.0.1:${port}${path}`,
    ],
    {
      encoding: 'utf8',
    },
  );
  return parseWrk(out);
}

/** The one-connection case: this many turns per server of durationS / 5 seconds (at least 1), median taken. */
const LATENCY_ROUNDS = 5;
const latencyS = Math.max(1, Math.round(durationS / LATENCY_ROUNDS));

/** Per field, the median over runs (an odd count: a real run's value). */
function medianRun(runs) {
  const median = (key) => {
    const sorted = runs.map((r) => r[key]).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  return {
    rps: median('rps'),
    avgUs: median('avgUs'),
    p99Us: median('p99Us'),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    socketErrors: runs.find((r) => r.socketErrors)?.socketErrors ?? null,
  };
}

// ---------- the cases: each checks the answer, then times it
const CASES = [
  {
    key: 'page',
    title: '4 KiB page',
    path: '/index.html',
    headers: [],
    connections: 50,
    check: (r) =>
      r.status === 200 && r.body.equals(Buffer.from(page)) && !r.headers['content-encoding'],
  },
  {
    key: 'asset',
    title: '100 KiB asset',
    path: '/asset.3f9a2c1e.js',
    headers: [],
    connections: 50,
    check: (r) => r.status === 200 && r.body.length === asset.length,
  },
  {
    key: 'gzip',
    title: '4 KiB page, gzip',
    path: '/index.html',
    headers: ['Accept-Encoding: gzip'],
    connections: 50,
    check: (r) =>
      r.status === 200 &&
      r.headers['content-encoding'] === 'gzip' &&
      r.body.length < page.length / 2,
  },
  {
    key: 'latency',
    title: '1 connection',
    path: '/index.html',
    headers: [],
    connections: 1,
    check: (r) => r.status === 200 && r.body.equals(Buffer.from(page)),
  },
];

// ---------- the servers
const SERVERS = [
  {
    name: 'owncdn origin',
    key: 'owncdn',
    available: () =>
      existsSync(join(ROOT, 'packages', 'origin', 'dist', 'index.js')) ||
      'packages/origin/dist missing: run pnpm build',
    start: (port) =>
      spawn(
        process.execPath,
        [
          OWNCDN_BIN,
          'origin',
          '--dir',
          site,
          '--listen',
          `127.0.0.1:${port}`,
          '--workers',
          String(workers),
          '--log-format',
          'json',
          '--log-level',
          'warn',
        ],
        {
          detached: true,
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      ),
  },
  {
    name: 'bare node:http',
    key: 'bare',
    available: () => true,
    start: (port) =>
      spawn(process.execPath, [join(HERE, 'bare-node.mjs'), site, String(port), String(workers)], {
        detached: true,
        stdio: 'ignore',
      }),
  },
  {
    name: 'sirv 3.0.2',
    key: 'sirv',
    available: () => {
      try {
        execFileSync(
          process.execPath,
          [
            '-e',
            `require(require('node:module').createRequire(${JSON.stringify(join(ROOT, 'packages/origin/package.json'))}).resolve('sirv'))`,
          ],
          { stdio: 'ignore' },
        );
        return true;
      } catch {
        return 'sirv is not installed (pnpm install)';
      }
    },
    start: (port) =>
      spawn(
        process.execPath,
        [join(HERE, 'sirv-server.mjs'), site, String(port), String(workers)],
        { detached: true, stdio: 'ignore' },
      ),
  },
  {
    name: 'nginx',
    key: 'nginx',
    available: () => has('nginx') || 'nginx is not installed (apt-get install nginx)',
    start: (port) => {
      const dir = join(work, 'nginx');
      mkdirSync(dir, { recursive: true });
      const conf = `worker_processes ${workers};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  gzip_static on;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; root ${site}; }
}
`;
      writeFileSync(join(dir, 'nginx.conf'), conf);
      return spawn(
        'nginx',
        ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')],
        { detached: true, stdio: 'ignore' },
      );
    },
  },
  {
    name: 'Caddy',
    key: 'caddy',
    available: () => has('caddy') || 'caddy is not installed (apt-get install caddy)',
    start: (port) => {
      const dir = join(work, 'caddy');
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'Caddyfile'),
        `{\n\tadmin off\n\tauto_https off\n}\nhttp://127.0.0.1:${port} {\n\troot * ${site}\n\tfile_server {\n\t\tprecompressed gzip\n\t}\n}\n`,
      );
      return spawn('caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
        detached: true,
        stdio: 'ignore',
        env: {
          ...process.env,
          GOMAXPROCS: String(workers),
          HOME: dir,
          XDG_DATA_HOME: dir,
          XDG_CONFIG_HOME: dir,
        },
      });
    },
  },
];

// ---------- run
const results = [];
const skipped = [];
console.log(
  `bench origin: ${workers} worker(s) each, ${durationS}s per case, site ${(siteBytes / 2 ** 20).toFixed(1)} MiB, ${cpus().length} cores${quick ? ' (quick mode)' : ''}`,
);
try {
  for (const server of SERVERS) {
    const ok = server.available();
    if (ok !== true) {
      console.log(`  ${server.name}: skipped — ${ok}`);
      skipped.push(`${server.name}: ${ok}`);
      continue;
    }
    const port = await freePort();
    const child = server.start(port);
    try {
      await waitReady(port, child, server.name);
      const row = { name: server.name, key: server.key, cases: {} };
      for (const c of CASES) {
        const answer = await get(
          port,
          c.path,
          Object.fromEntries(c.headers.map((h) => h.split(': '))),
        );
        if (!c.check(answer))
          throw new Error(
            `${server.name} answered ${c.title} wrongly (status ${answer.status}, ${answer.body.length} bytes, encoding ${answer.headers['content-encoding'] ?? 'none'})`,
          );
        // One connection is timed later, every server in turn (see below).
        if (c.connections === 1) continue;
        const run = (seconds) =>
          wrk(port, c.path, {
            connections: c.connections,
            threads: 2,
            headers: c.headers,
            seconds,
          });
        run(warmS);
        const m = run(durationS);
        if (m.errors > 0)
          throw new Error(`${server.name}: ${m.errors} non-2xx responses during ${c.title}`);
        row.cases[c.key] = m;
        console.log(
          `  ${server.name.padEnd(15)} ${c.title.padEnd(17)} ${Math.round(m.rps).toString().padStart(7)} req/s  avg ${Math.round(m.avgUs)} µs  p99 ${Math.round(m.p99Us)} µs`,
        );
      }
      row.rssEachMiB = rssEachMiB(child.pid);
      row.rssMiB = row.rssEachMiB.reduce((a, b) => a + b, 0);
      if (server.key === 'owncdn') {
        const health = JSON.parse((await get(port, '/healthz')).body.toString());
        row.siteMemoryBytes = health.bytes;
      }
      console.log(
        `  ${server.name.padEnd(15)} resident memory   ${row.rssMiB.toFixed(1)} MiB (${row.rssEachMiB.map((m) => m.toFixed(0)).join(' + ')})`,
      );
      results.push(row);
    } catch (error) {
      console.log(`  ${server.name}: failed — ${error.message}`);
      skipped.push(`${server.name}: failed — ${error.message}`);
    } finally {
      await stop(child);
    }
  }
  // One connection measures the tail of whatever else the 2 cores run: a stall of a few ms
  // moves a 10 s average by tens of µs, and other work comes and goes over minutes. So every
  // server runs at once (idle between its turns) and takes short turns in rotation, and each
  // keeps the median of its runs: a busy minute hits them all alike.
  const latencyCase = CASES.find((c) => c.connections === 1);
  const running = [];
  try {
    for (const row of results) {
      const server = SERVERS.find((s) => s.key === row.key);
      const port = await freePort();
      const child = server.start(port);
      running.push({ row, port, child, runs: [] });
      await waitReady(port, child, server.name);
      if (!latencyCase.check(await get(port, latencyCase.path)))
        throw new Error(`${server.name} answered ${latencyCase.title} wrongly`);
      wrk(port, latencyCase.path, { connections: 1, threads: 1, seconds: warmS });
    }
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      const order = round % 2 === 0 ? running : [...running].reverse();
      for (const r of order)
        r.runs.push(
          wrk(r.port, latencyCase.path, { connections: 1, threads: 1, seconds: latencyS }),
        );
    }
    for (const r of running) {
      const m = medianRun(r.runs);
      r.row.cases[latencyCase.key] = m;
      console.log(
        `  ${r.row.name.padEnd(15)} ${latencyCase.title.padEnd(17)} ${Math.round(m.rps).toString().padStart(7)} req/s  avg ${Math.round(m.avgUs)} µs  p99 ${Math.round(m.p99Us)} µs  (median of ${r.runs.length}: avg ${r.runs.map((x) => Math.round(x.avgUs)).join(', ')})`,
      );
    }
  } catch (error) {
    console.log(`  ${latencyCase.title}: failed — ${error.message}`);
    skipped.push(`${latencyCase.title}: failed — ${error.message}`);
  } finally {
    for (const r of running) await stop(r.child);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

// ---------- the table
const own = results.find((r) => r.key === 'owncdn');
const fmt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const ratio = (a, b) =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—';
const header = `| server | ${CASES.filter((c) => c.key !== 'latency')
  .map((c) => `${c.title} req/s (p99 µs)`)
  .join(' | ')} | 1 connection avg µs (p99) | RSS MiB (per process) |`;
const rows = results.map((r) => {
  const cells = CASES.filter((c) => c.key !== 'latency').map(
    (c) => `${fmt(r.cases[c.key]?.rps)} (${fmt(r.cases[c.key]?.p99Us)})`,
  );
  return `| ${r.name} | ${cells.join(' | ')} | ${fmt(r.cases.latency?.avgUs)} (${fmt(r.cases.latency?.p99Us)}) | ${r.rssMiB.toFixed(0)} (${r.rssEachMiB.map((m) => m.toFixed(0)).join(' + ')}) |`;
});
const ratioRows = own
  ? results
      .filter((r) => r !== own)
      .map(
        (r) =>
          `| owncdn ÷ ${r.name} | ${CASES.filter((c) => c.key !== 'latency')
            .map((c) => ratio(own.cases[c.key]?.rps, r.cases[c.key]?.rps))
            .join(
              ' | ',
            )} | ${ratio(r.cases.latency?.avgUs, own.cases.latency?.avgUs)} faster | ${ratio(own.rssMiB, r.rssMiB)} |`,
      )
  : [];
const goal = (label, value, target, better = 'higher') => {
  if (!Number.isFinite(value)) return `- ${label}: not measured`;
  const met = better === 'higher' ? value >= target : value <= target;
  return `- ${met ? 'met' : 'NOT met'}: ${label} — ${value.toFixed(2)} (goal ${better === 'higher' ? '≥' : '≤'} ${target})`;
};
const pageRatio = (key) =>
  own && results.find((r) => r.key === key)
    ? own.cases.page.rps / results.find((r) => r.key === key).cases.page.rps
    : NaN;
const MiB = 2 ** 20;
/**
 * Memory goal: what owncdn holds beyond the Node runtime, per copy of the
 * site. The runtime is the bare node:http tree with the same worker count
 * (primary + workers, ~45-60 MiB each, no site); each worker must hold its
 * own copy of the site (raw bytes plus compressed variants, as /healthz
 * reports them).
 */
function memoryGoal() {
  const bare = results.find((r) => r.key === 'bare');
  const siteMiB = own.siteMemoryBytes / MiB;
  if (!bare || !Number.isFinite(siteMiB))
    return '- resident memory: not measured (needs the bare node:http run and /healthz)';
  return goal(
    `resident memory beyond the Node runtime ÷ the site held by every worker = (owncdn tree ${own.rssMiB.toFixed(0)} MiB − bare node:http tree ${bare.rssMiB.toFixed(0)} MiB, both ${own.rssEachMiB.length} processes) ÷ (${siteMiB.toFixed(1)} MiB raw + compressed variants × ${workers} workers)`,
    (own.rssMiB - bare.rssMiB) / (siteMiB * workers),
    3,
    'lower',
  );
}
/** The plain figure, for reference: every byte of the tree, Node runtime included. */
function memoryAbsolute() {
  const siteMiB = own.siteMemoryBytes / MiB;
  return `- for reference (not the goal): absolute resident memory ÷ the site in memory = ${own.rssMiB.toFixed(0)} MiB (${own.rssEachMiB.map((m) => m.toFixed(0)).join(' + ')}) ÷ ${siteMiB.toFixed(1)} MiB = ${(own.rssMiB / siteMiB).toFixed(2)}; per worker copy ${(own.rssMiB / (siteMiB * workers)).toFixed(2)}`;
}
const goals = own
  ? [
      goal('4 KiB page vs bare node:http', pageRatio('bare'), 0.9),
      goal('4 KiB page vs Caddy', pageRatio('caddy'), 1.5),
      goal('4 KiB page vs sirv', pageRatio('sirv'), 1.5),
      goal('4 KiB page vs nginx', pageRatio('nginx'), 0.55),
      goal(
        `single-connection latency, µs (wrk -c1 average, median of ${LATENCY_ROUNDS} turns of ${latencyS}s)`,
        own.cases.latency.avgUs,
        100,
        'lower',
      ),
      memoryGoal(),
      memoryAbsolute(),
    ]
  : ['- owncdn origin was not measured'];
const markdown = `## origin

\`node bench/origin/run.mjs${args.length ? ` ${args.join(' ')}` : ''}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}.
Every server: ${workers} worker process(es), 127.0.0.1, keep-alive, access logs off; wrk on the same cores, 50 connections
(2 threads) for ${durationS}s after ${warmS}s of warm-up; "1 connection" is one connection at a time: all servers up at once,
each timed in ${LATENCY_ROUNDS} turns of ${latencyS}s in rotation, median of its turns. Site: a 4 KiB page (and its .gz), a 100 KiB asset, and ${fillerCount} 16 KiB pages
(${(siteBytes / 2 ** 20).toFixed(1)} MiB in all, written and synced before any server starts). RSS is VmRSS summed over the
process tree after the runs (leader first).${quick ? '\n\n**Quick mode on a busy machine (other work sharing the 2 cores): these numbers prove the harness works; they are not the figures to judge by. Final numbers come from a quiet full run.**' : ''}

${header}
|${' --- |'.repeat(CASES.length + 2)}
${rows.join('\n')}

| ratio | ${CASES.filter((c) => c.key !== 'latency')
  .map((c) => c.title)
  .join(' | ')} | 1 connection | RSS |
|${' --- |'.repeat(CASES.length + 2)}
${ratioRows.join('\n')}

Goals (issue 3):
${goals.join('\n')}
${skipped.length ? `\nSkipped: ${skipped.join('; ')}\n` : ''}`;
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, 'origin.md'), markdown);
console.log(`\nwrote ${join(RESULTS, 'origin.md')}`);
