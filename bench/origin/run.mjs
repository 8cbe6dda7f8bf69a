#!/usr/bin/env node
// bench/origin: owncdn origin against nginx, Caddy, sirv and a bare node:http
// server, on loopback, with wrk on the same cores (issue 3). Every server gets
// the same files and the same number of worker processes. Each case checks
// the response before timing it. Writes bench/results/origin.md.
//
//   node bench/origin/run.mjs [--quick] [--workers N] [--rounds N] [--latency-rounds N]
//     [--turn S] [--site-mib N]
//
// Every server runs at once and each case is timed in short turns taken in
// rotation, many rounds, median per server: on a shared 2-core machine other
// work comes and goes over seconds, and timing the servers one after another
// compared the machine's load as much as the servers.
//
// Anchors that are not installed are skipped with a message
// (bench/install-anchors.sh, or: apt-get install nginx caddy wrk).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../ports.mjs';
import {
  HERE,
  ROOT,
  get,
  has,
  makeSite,
  median,
  quantile,
  rssEachMiB,
  startOwncdn,
  startScript,
  stop,
  turnOrder,
  waitReady,
  wrk,
} from './harness.mjs';

const RESULTS = join(ROOT, 'bench', 'results');

const args = process.argv.slice(2);
// Not strict: `pnpm bench` passes every flag on to every benchmark.
const { values: flags } = parseArgs({
  args,
  strict: false,
  options: {
    quick: { type: 'boolean' },
    workers: { type: 'string' },
    rounds: { type: 'string' },
    'latency-rounds': { type: 'string' },
    turn: { type: 'string' },
    'site-mib': { type: 'string' },
  },
});
const number = (value, fallback) => (typeof value === 'string' ? Number(value) : fallback);
const quick = flags.quick === true;
const workers = number(flags.workers, availableParallelism());
/** Rounds of the 50-connection cases: each server one turn per round. */
const rounds = number(flags.rounds, quick ? 3 : 10);
/** Rounds of the one-connection case (its average moves most with the machine's other work). */
const latencyRounds = number(flags['latency-rounds'], quick ? 5 : 20);
/** Seconds per turn (wrk's shortest run is 1 s). */
const turnS = number(flags.turn, 1);
const warmS = quick ? 1 : 2;
const siteMiB = number(flags['site-mib'], quick ? 4 : 16);

if (!has('wrk')) {
  console.error('bench origin: wrk is not installed (apt-get install wrk); nothing measured');
  process.exit(1);
}

// ---------- the site: a 4 KiB page, a 100 KiB asset, and filler so memory means something
const { work, site, page, asset, fillerCount, siteBytes } = makeSite(siteMiB);

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
    start: (port) => startOwncdn(site, port, workers),
  },
  {
    name: 'bare node:http',
    key: 'bare',
    available: () => true,
    start: (port) => startScript(join(HERE, 'bare-node.mjs'), site, port, workers),
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
    start: (port) => startScript(join(HERE, 'sirv-server.mjs'), site, port, workers),
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
/** Servers that answered every case correctly, until one fails a turn. */
let running = [];
const started = [];
console.log(
  `bench origin: ${workers} worker(s) each, every server up at once; ${rounds} rounds of ${turnS}s turns per case (1 connection: ${latencyRounds} rounds), site ${(siteBytes / 2 ** 20).toFixed(1)} MiB, ${cpus().length} cores${quick ? ' (quick mode)' : ''}`,
);
const fmt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
/** median [p25–p75] (min–max) of a list, rounded */
const spread = (values) =>
  `${fmt(median(values))} [${fmt(quantile(values, 0.25))}–${fmt(quantile(values, 0.75))}] (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
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
      for (const c of CASES) {
        const answer = await get(
          port,
          c.path,
          Object.fromEntries(c.headers.map((h) => h.split(': '))),
        );
        if (!c.check(answer))
          throw new Error(
            `answered ${c.title} wrongly (status ${answer.status}, ${answer.body.length} bytes, encoding ${answer.headers['content-encoding'] ?? 'none'})`,
          );
      }
      running.push({ server, port, child, row: { name: server.name, key: server.key, turns: {} } });
      started.push(child);
    } catch (error) {
      console.log(`  ${server.name}: failed — ${error.message}`);
      skipped.push(`${server.name}: failed — ${error.message}`);
      await stop(child);
    }
  }
  /** Drops a server that failed a turn from the rest of the run. */
  const drop = (r, error) => {
    console.log(`  ${r.server.name}: failed — ${error.message}`);
    skipped.push(`${r.server.name}: failed — ${error.message}`);
    running = running.filter((x) => x !== r);
  };
  for (const c of CASES) {
    const caseRounds = c.connections === 1 ? latencyRounds : rounds;
    const turn = (r, seconds) => {
      const m = wrk(r.port, c.path, {
        connections: c.connections,
        threads: c.connections === 1 ? 1 : 2,
        headers: c.headers,
        seconds,
      });
      if (m.errors > 0)
        throw new Error(`${r.server.name}: ${m.errors} non-2xx responses during ${c.title}`);
      return m;
    };
    for (const r of running) {
      r.row.turns[c.key] = [];
      try {
        turn(r, warmS);
      } catch (error) {
        drop(r, error);
      }
    }
    for (let round = 0; round < caseRounds; round++) {
      for (const r of turnOrder(running, round)) {
        try {
          r.row.turns[c.key].push(turn(r, turnS));
        } catch (error) {
          drop(r, error);
        }
      }
    }
    for (const r of running) {
      const turns = r.row.turns[c.key];
      console.log(
        `  ${r.server.name.padEnd(15)} ${c.title.padEnd(17)} ${c.connections === 1 ? `avg ${spread(turns.map((t) => t.avgUs))} µs` : `${spread(turns.map((t) => t.rps))} req/s`}`,
      );
    }
  }
  for (const r of running) {
    r.row.rssEachMiB = rssEachMiB(r.child.pid);
    r.row.rssMiB = r.row.rssEachMiB.reduce((a, b) => a + b, 0);
    if (r.server.key === 'owncdn') {
      const health = JSON.parse((await get(r.port, '/healthz')).body.toString());
      r.row.siteMemoryBytes = health.bytes;
    }
    console.log(
      `  ${r.server.name.padEnd(15)} resident memory   ${r.row.rssMiB.toFixed(1)} MiB (${r.row.rssEachMiB.map((m) => m.toFixed(0)).join(' + ')})`,
    );
    results.push(r.row);
  }
} finally {
  for (const child of started) await stop(child);
  rmSync(work, { recursive: true, force: true });
}

// ---------- the table
/** Per server and case: the median over its turns of each figure. */
const medianOf = (row, key, field) => median((row.turns[key] ?? []).map((t) => t[field]));
const own = results.find((r) => r.key === 'owncdn');
const bare = results.find((r) => r.key === 'bare');
const ratio = (a, b) =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—';
const throughputCases = CASES.filter((c) => c.connections > 1);
const header = `| server | ${throughputCases
  .map((c) => `${c.title} req/s (p99 µs)`)
  .join(' | ')} | 1 connection avg µs (p99) | RSS MiB (per process) |`;
const rows = results.map((r) => {
  const cells = throughputCases.map(
    (c) => `${fmt(medianOf(r, c.key, 'rps'))} (${fmt(medianOf(r, c.key, 'p99Us'))})`,
  );
  return `| ${r.name} | ${cells.join(' | ')} | ${fmt(medianOf(r, 'latency', 'avgUs'))} (${fmt(medianOf(r, 'latency', 'p99Us'))}) | ${r.rssMiB.toFixed(0)} (${r.rssEachMiB.map((m) => m.toFixed(0)).join(' + ')}) |`;
});
const ratioRows = own
  ? results
      .filter((r) => r !== own)
      .map(
        (r) =>
          `| owncdn ÷ ${r.name} | ${throughputCases
            .map((c) => ratio(medianOf(own, c.key, 'rps'), medianOf(r, c.key, 'rps')))
            .join(
              ' | ',
            )} | ${ratio(medianOf(r, 'latency', 'avgUs'), medianOf(own, 'latency', 'avgUs'))} faster | ${ratio(own.rssMiB, r.rssMiB)} |`,
      )
  : [];
const spreadRows = results.map(
  (r) =>
    `| ${r.name} | ${spread(r.turns.page.map((t) => t.rps))} | ${spread(r.turns.latency.map((t) => t.avgUs))} | ${fmt(medianOf(r, 'latency', 'p50Us'))} | ${fmt(median(r.turns.latency.map((t) => 1e6 / t.rps)))} |`,
);
/** owncdn ÷ bare node:http per round (their turns in the same round, seconds apart). */
const pairedPage = () => {
  const n = Math.min(own.turns.page.length, bare.turns.page.length);
  const values = own.turns.page.slice(0, n).map((t, i) => t.rps / bare.turns.page[i].rps);
  return `${median(values).toFixed(2)}, ${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;
};
const goal = (label, value, target, better = 'higher') => {
  if (!Number.isFinite(value)) return `- ${label}: not measured`;
  const met = better === 'higher' ? value >= target : value <= target;
  return `- ${met ? 'met' : 'NOT met'}: ${label} — ${value.toFixed(2)} (goal ${better === 'higher' ? '≥' : '≤'} ${target})`;
};
const pageRatio = (key) => {
  const other = results.find((r) => r.key === key);
  return own && other ? medianOf(own, 'page', 'rps') / medianOf(other, 'page', 'rps') : NaN;
};
const MiB = 2 ** 20;
/**
 * Memory goal: what owncdn holds beyond the Node runtime, per copy of the
 * site. The runtime is the bare node:http tree with the same worker count
 * (primary + workers, ~45-60 MiB each, no site); each worker must hold its
 * own copy of the site (raw bytes plus compressed variants, as /healthz
 * reports them).
 */
function memoryGoal() {
  const siteInMiB = own.siteMemoryBytes / MiB;
  if (!bare || !Number.isFinite(siteInMiB))
    return '- resident memory: not measured (needs the bare node:http run and /healthz)';
  return goal(
    `resident memory beyond the Node runtime ÷ the site held by every worker = (owncdn tree ${own.rssMiB.toFixed(0)} MiB − bare node:http tree ${bare.rssMiB.toFixed(0)} MiB, both ${own.rssEachMiB.length} processes) ÷ (${siteInMiB.toFixed(1)} MiB raw + compressed variants × ${workers} workers)`,
    (own.rssMiB - bare.rssMiB) / (siteInMiB * workers),
    3,
    'lower',
  );
}
/** The plain figure, for reference: every byte of the tree, Node runtime included. */
function memoryAbsolute() {
  const siteInMiB = own.siteMemoryBytes / MiB;
  return `- for reference (not the goal): absolute resident memory ÷ the site in memory = ${own.rssMiB.toFixed(0)} MiB (${own.rssEachMiB.map((m) => m.toFixed(0)).join(' + ')}) ÷ ${siteInMiB.toFixed(1)} MiB = ${(own.rssMiB / siteInMiB).toFixed(2)}; per worker copy ${(own.rssMiB / (siteInMiB * workers)).toFixed(2)}`;
}
const goals = own
  ? [
      goal(
        `4 KiB page vs bare node:http (medians of ${rounds} turns each; per round ${bare ? pairedPage() : '—'})`,
        pageRatio('bare'),
        0.9,
      ),
      goal('4 KiB page vs Caddy', pageRatio('caddy'), 1.5),
      goal('4 KiB page vs sirv', pageRatio('sirv'), 1.5),
      goal('4 KiB page vs nginx', pageRatio('nginx'), 0.55),
      goal(
        `single-connection latency, µs (wrk -c1 average, median of ${latencyRounds} turns of ${turnS}s; bare node:http ${fmt(bare ? medianOf(bare, 'latency', 'avgUs') : NaN)} µs in the same rotation)`,
        medianOf(own, 'latency', 'avgUs'),
        100,
        'lower',
      ),
      memoryGoal(),
      memoryAbsolute(),
    ]
  : ['- owncdn origin was not measured'];
const markdown = `## origin

\`node bench/origin/run.mjs${args.length ? ` ${args.join(' ')}` : ''}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}.
Every server: ${workers} worker process(es), 127.0.0.1, keep-alive, access logs off; wrk on the same cores. All servers run
at once and take turns of ${turnS}s in rotation (each first equally often, the order reversed in every other cycle of rotations),
after ${warmS}s of warm-up each: ${rounds} rounds at 50 connections (2 threads) per case, ${latencyRounds} rounds for "1 connection"
(one thread, one connection at a time). Each figure is the median over a server's turns. Site: a 4 KiB page (and its .gz),
a 100 KiB asset, and ${fillerCount} 16 KiB pages (${(siteBytes / 2 ** 20).toFixed(1)} MiB in all, written and synced before any server starts).
RSS is VmRSS summed over each process tree after all the turns (leader first).${quick ? '\n\n**Quick mode: these numbers prove the harness works; they are not the figures to judge by. Final numbers come from a quiet full run.**' : ''}

${header}
|${' --- |'.repeat(throughputCases.length + 3)}
${rows.join('\n')}

| ratio | ${throughputCases.map((c) => c.title).join(' | ')} | 1 connection | RSS |
|${' --- |'.repeat(throughputCases.length + 3)}
${ratioRows.join('\n')}

Spread over the turns, median [p25–p75] (min–max). wrk's average latency is corrected for coordinated omission: a stall
of a few ms adds synthetic samples for the requests it held up, so one stalled turn moves its average by tens of µs;
its median latency and the mean round trip (1 s ÷ requests per second on the one connection) are given beside it.

| server | 4 KiB page req/s | 1 connection avg µs | 1 connection p50 µs | 1 connection mean round trip µs |
| --- | --- | --- | --- | --- |
${spreadRows.join('\n')}

Goals (issue 3):
${goals.join('\n')}
${skipped.length ? `\nSkipped: ${skipped.join('; ')}\n` : ''}`;
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, 'origin.md'), markdown);
console.log(`\nwrote ${join(RESULTS, 'origin.md')}`);
