#!/usr/bin/env node
// bench/origin A/B: two or more servers up side by side, each with the same
// worker count, timed in many short alternating wrk turns, so that a real
// difference can be told from the noise of a shared 2-core machine. For each
// server: the median and spread of its turns (wrk's average latency, req/s)
// and of its CPU time per request (every thread of its process group, from
// /proc schedstat: the server's own cost, whatever wrk and the neighbours
// do). For the first server against each other: the per-round ratio.
//
//   node bench/origin/ab.mjs [--workers N] [--turns 20] [--seconds 1]
//     [--connections 1] [--path /index.html] [--site-mib 16]
//     [--server owncdn] [--server bare] [--server name=path/to/server.mjs ...]
//
// `owncdn` is `owncdn origin --dir`; `bare` is bare-node.mjs; `sirv` is
// sirv-server.mjs; `name=script` runs any script taking `<dir> <port> <workers>`.
// With --connections 1, wrk runs one thread (the latency case); otherwise two.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../ports.mjs';
import {
  HERE,
  get,
  groupCpuNs,
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

const { values: flags } = parseArgs({
  strict: false,
  options: {
    workers: { type: 'string', default: '2' },
    turns: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '1' },
    connections: { type: 'string', default: '1' },
    path: { type: 'string', default: '/index.html' },
    'site-mib': { type: 'string', default: '16' },
    server: { type: 'string', multiple: true, default: ['owncdn', 'bare'] },
  },
});
const workers = Number(flags.workers);
const turns = Number(flags.turns);
const seconds = Number(flags.seconds);
const connections = Number(flags.connections);
const path = String(flags.path);
const siteMiB = Number(flags['site-mib']);
const names = flags.server;

if (!has('wrk')) {
  console.error('bench origin ab: wrk is not installed (apt-get install wrk)');
  process.exit(1);
}

const PRESETS = {
  owncdn: (site, port) => startOwncdn(site, port, workers),
  bare: (site, port) => startScript(join(HERE, 'bare-node.mjs'), site, port, workers),
  sirv: (site, port) => startScript(join(HERE, 'sirv-server.mjs'), site, port, workers),
};
const servers = names.map((spec) => {
  const eq = spec.indexOf('=');
  if (eq === -1) {
    const start = PRESETS[spec];
    if (!start) throw new Error(`unknown server ${spec} (owncdn, bare, sirv or name=script)`);
    return { name: spec, start };
  }
  const script = spec.slice(eq + 1);
  return {
    name: spec.slice(0, eq),
    start: (site, port) => startScript(script, site, port, workers),
  };
});

const { work, site, page } = makeSite(siteMiB);
const running = [];
const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
/** median [p25–p75] (min–max) */
const spread = (values, digits = 0) =>
  `${fmt(median(values), digits)} [${fmt(quantile(values, 0.25), digits)}–${fmt(quantile(values, 0.75), digits)}] (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;

try {
  for (const server of servers) {
    const port = await freePort();
    const child = server.start(site, port);
    running.push({ ...server, port, child, runs: [] });
    await waitReady(port, child, server.name);
    const answer = await get(port, path);
    if (answer.status !== 200 || (path === '/index.html' && !answer.body.equals(Buffer.from(page))))
      throw new Error(`${server.name} answered ${path} wrongly (status ${answer.status})`);
  }
  const threads = connections === 1 ? 1 : 2;
  const turn = (r) => {
    const before = groupCpuNs(r.child.pid);
    const m = wrk(r.port, path, { connections, threads, seconds });
    const cpuNs = groupCpuNs(r.child.pid) - before;
    if (m.errors > 0) throw new Error(`${r.name}: ${m.errors} non-2xx responses`);
    return { ...m, cpuUsPerRequest: cpuNs / 1000 / m.requests };
  };
  // Warm-up: every server, twice its turn length (JIT, young generation sized).
  for (const r of running) wrk(r.port, path, { connections, threads, seconds: 2 * seconds });
  console.log(
    `ab: ${workers} worker(s) each, ${connections} connection(s), ${turns} rounds of ${seconds}s turns, ${path}, site ${siteMiB} MiB`,
  );
  for (let round = 0; round < turns; round++) {
    for (const r of turnOrder(running, round)) r.runs.push(turn(r));
    process.stdout.write(
      `  round ${String(round + 1).padStart(2)}: ${running.map((r) => `${r.name} ${fmt(r.runs.at(-1).avgUs)} µs ${fmt(r.runs.at(-1).rps / 1000, 1)} k/s ${fmt(r.runs.at(-1).cpuUsPerRequest, 1)} cpu-µs`).join(' | ')}\n`,
    );
  }
  console.log('\nper server: median [p25–p75] (min–max) over the turns');
  for (const r of running) {
    console.log(`  ${r.name}`);
    console.log(`    wrk avg latency µs   ${spread(r.runs.map((x) => x.avgUs))}`);
    console.log(`    wrk p50 latency µs   ${spread(r.runs.map((x) => x.p50Us))}`);
    console.log(`    req/s                ${spread(r.runs.map((x) => x.rps))}`);
    console.log(
      `    server CPU µs/req    ${spread(
        r.runs.map((x) => x.cpuUsPerRequest),
        1,
      )}`,
    );
    const rss = rssEachMiB(r.child.pid);
    console.log(
      `    RSS MiB              ${rss.reduce((a, b) => a + b, 0).toFixed(0)} (${rss.map((m) => m.toFixed(0)).join(' + ')})`,
    );
  }
  const [first, ...others] = running;
  for (const other of others) {
    const pairs = first.runs.map((a, i) => ({ a, b: other.runs[i] }));
    const lat = pairs.map(({ a, b }) => a.avgUs / b.avgUs);
    const rps = pairs.map(({ a, b }) => a.rps / b.rps);
    const cpu = pairs.map(({ a, b }) => a.cpuUsPerRequest / b.cpuUsPerRequest);
    const fasterRounds = pairs.filter(({ a, b }) => a.avgUs < b.avgUs).length;
    console.log(`\n${first.name} ÷ ${other.name}, per round: median [p25–p75] (min–max)`);
    console.log(
      `  avg latency   ${spread(lat, 3)}   (${first.name} lower in ${fasterRounds}/${pairs.length} rounds)`,
    );
    console.log(`  req/s         ${spread(rps, 3)}`);
    console.log(`  CPU µs/req    ${spread(cpu, 3)}`);
  }
} finally {
  for (const r of running) await stop(r.child);
  rmSync(work, { recursive: true, force: true });
}
