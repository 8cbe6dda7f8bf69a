// owncdn geodns against the anchors of issue #4, side by side, with dnsperf:
// gdnsd (geoip plugin), PowerDNS (geoip backend), Knot (plain zone) and a bare
// node:dgram responder. Same converted .mmdb and continent map for the geo
// servers; answers for a sample of client subnets are checked against gdnsd
// with dig before anything is timed.
//
//   node bench/geodns/run.mjs            # 15 s per run, 3 runs, median
//   node bench/geodns/run.mjs --short    # 3 s, 1 run: proves it works
//   node bench/geodns/run.mjs --only owncdn,gdnsd   # a subset (names contain these)
//
// Needs `pnpm build` first (it runs packages/cli/bin/owncdn.js) and, for the
// anchors, `apt-get install -y gdnsd knot pdns-server pdns-backend-geoip dnsperf`.
// Each missing anchor is skipped with a message. Results: bench/results/geodns.md.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  existsSync,
  readdirSync,
} from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeDnsPort } from '../ports.mjs';
import { convertDatabase } from './mmdb.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHORT = process.argv.includes('--short');
const SECONDS = Number(argValue('--seconds') ?? (SHORT ? 3 : 15));
const RUNS = Number(argValue('--runs') ?? (SHORT ? 1 : 3));
const OUT = join(ROOT, 'bench', 'results', 'geodns.md');

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

if (!has('dnsperf')) {
  console.error('dnsperf is not installed (apt-get install -y dnsperf): nothing to measure with.');
  process.exit(1);
}
if (!existsSync(join(ROOT, 'packages/geodns/dist/index.js'))) {
  console.error('packages/geodns/dist is missing: run `pnpm build` first.');
  process.exit(1);
}

const { COUNTRY_CONTINENT } = await import(join(ROOT, 'packages/geodns/dist/continents.js'));
const { bundledDatabasePath } = await import(join(ROOT, 'packages/geodns/dist/geo.js'));

const work = mkdtempSync(join(tmpdir(), 'owncdn-bench-geodns-'));
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));

// ---- shared data --------------------------------------------------------
const geoFile = join(work, 'geo2-country.mmdb');
convertDatabase(bundledDatabasePath(), geoFile, (c) => COUNTRY_CONTINENT.get(c) ?? null);
const NODES = { au: '127.0.0.11', us: '127.0.0.12', fr: '127.0.0.13' };
const MAP = { AF: 'fr', AN: 'au', AS: 'au', EU: 'fr', NA: 'us', OC: 'au', SA: 'fr' };

function random32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Public-looking /24s (no private, loopback, multicast or documentation space). */
function publicSubnets(count) {
  const next = random32(42);
  const out = [];
  while (out.length < count) {
    const a = 1 + (next() % 223);
    const b = next() % 256;
    const c = next() % 256;
    if (
      [0, 10, 127].includes(a) ||
      (a === 100 && b >= 64 && b < 128) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168) ||
      (a === 198 && (b === 18 || b === 19))
    )
      continue;
    out.push(`${a}.${b}.${c}.0`);
  }
  return out;
}

function query(name, id, ecs) {
  const parts = [id >> 8, id & 255, 0, 0, 0, 1, 0, 0, 0, 0, 0, ecs ? 1 : 0];
  for (const label of name.split('.')) parts.push(label.length, ...Buffer.from(label));
  parts.push(0, 0, 1, 0, 1);
  if (ecs) {
    const bytes = ecs.split('.').slice(0, 3).map(Number);
    parts.push(0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, ...bytes);
  }
  return Buffer.from(parts);
}

const LINES = 10_000;
const plain = [];
for (let i = 0; i < LINES; i++) plain.push(i % 5 === 4 ? `nx${i}.example.org A` : 'example.org A');
writeFileSync(join(work, 'plain.txt'), `${plain.join('\n')}\n`);
const subnets = publicSubnets(LINES);
const frames = [];
for (let i = 0; i < LINES; i++) {
  const q = query(i % 5 === 4 ? `nx${i}.example.org` : 'example.org', i & 0xffff, subnets[i]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(q.length);
  frames.push(len, q);
}
writeFileSync(join(work, 'many-subnets.bin'), Buffer.concat(frames));

const WORKLOADS = [
  { name: 'apex A + 20% NXDOMAIN, no ECS', args: ['-d', join(work, 'plain.txt')] },
  // ECS 81.2.69.0/24 (GB) on every query: option 8, family 1, /24, scope 0.
  { name: 'same, one ECS /24', args: ['-d', join(work, 'plain.txt'), '-E', '8:00011800510245'] },
  { name: 'same, ECS from 10,000 /24s', args: ['-d', join(work, 'many-subnets.bin'), '-B'] },
];

// ---- origins for owncdn's health probes ---------------------------------
const origins = await Promise.all(
  Object.entries(NODES).map(
    ([name, ip]) =>
      new Promise((resolve) => {
        const s = createHttpServer((req, res) =>
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ status: 'ok', node: name, release: 'bench' })),
        );
        s.listen(0, ip, () => resolve({ name, ip, port: s.address().port, server: s }));
      }),
  ),
);

// ---- servers ------------------------------------------------------------
function start(command, args, ready, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    children.add(child);
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`${command} did not become ready:\n${output}`)),
      30_000,
    );
    const onData = (chunk) => {
      output += chunk;
      const match = output.match(ready);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}):\n${output}`));
    });
  });
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

/** Waits until the server answers a query (for daemons without a readiness line). */
async function answering(port) {
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('dig', [
      '@127.0.0.1',
      '-p',
      String(port),
      'example.org',
      'SOA',
      '+time=1',
      '+tries=1',
      '+short',
    ]);
    if (r.status === 0 && r.stdout.toString().trim()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing answers on port ${port}`);
}

async function startOwncdn(workers) {
  const dir = join(work, `owncdn-${workers}`);
  mkdirSync(dir, { recursive: true });
  const nodes = origins
    .map(
      (o) =>
        `  - { name: ${o.name}, ipv4: ${o.ip}, continents: [${Object.keys(MAP)
          .filter((c) => MAP[c] === o.name)
          .join(
            ', ',
          )}], ${o.name === 'au' ? 'default: true, ' : ''}root: ./${o.name}, http: ${o.port} }`,
    )
    .join('\n');
  writeFileSync(
    join(dir, 'owncdn.yaml'),
    `site: { domain: example.org, names: [example.org, www.example.org] }\nnodes:\n${nodes}\ndns:\n  nameservers: [{ name: ns1.example.org, ipv4: 127.0.0.53 }]\n  ttl: 30\n  geoip: ${geoFile}\n  rrl: { enabled: false }\n`,
  );
  const { child, output } = await start(
    process.execPath,
    [
      join(ROOT, 'packages/cli/bin/owncdn.js'),
      'geodns',
      '-c',
      join(dir, 'owncdn.yaml'),
      '--listen',
      '127.0.0.1:0',
      '--api-listen',
      'off',
      '--workers',
      String(workers),
      '--log-format',
      'json',
    ],
    /"msg":"geodns listening"/,
  );
  const line = JSON.parse(
    output()
      .split('\n')
      .find((l) => l.includes('geodns listening')),
  );
  return { child, port: Number(line.dns[0].split(':')[1]) };
}

async function startBare(workers) {
  const port = await freeDnsPort();
  const { child } = await start(
    process.execPath,
    [join(ROOT, 'bench/geodns/bare.mjs'), String(port), String(workers)],
    /listening \d+/,
  );
  return { child, port };
}

async function startGdnsd() {
  const dir = join(work, 'gdnsd');
  mkdirSync(join(dir, 'zones'), { recursive: true });
  const port = await freeDnsPort();
  const map = Object.entries(MAP)
    .map(([c, dc]) => `${c} => [${dc}]`)
    .join(', ');
  writeFileSync(
    join(dir, 'config'),
    `options => { listen => [ "127.0.0.1:${port}" ], udp_threads => 2, tcp_threads => 1, run_dir => "${dir}/run", state_dir => "${dir}/state" }
plugins => { geoip => {
  maps => { owncdn => { geoip2_db => "${geoFile}", datacenters => [au, us, fr], map => { ${map}, default => [au] } } }
  resources => { www => { map => owncdn, dcmap => { au => ${NODES.au}, us => ${NODES.us}, fr => ${NODES.fr} } } }
} }
`,
  );
  writeFileSync(
    join(dir, 'zones', 'example.org'),
    `$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n@ NS ns1\nns1 A 127.0.0.53\n@ 30 DYNA geoip!www\nwww 30 DYNA geoip!www\n`,
  );
  const { child } = await start(
    'gdnsd',
    ['-c', dir, 'start'],
    /DNS listeners started|ready|Listening|listening/i,
  );
  await answering(port);
  return { child, port };
}

async function startPdns() {
  const dir = join(work, 'pdns');
  mkdirSync(dir, { recursive: true });
  const port = await freeDnsPort();
  const service = Object.entries(MAP)
    .map(([c, dc]) => `    ${c.toLowerCase()}.service.example.org:\n      - a: ${NODES[dc]}`)
    .join('\n');
  writeFileSync(
    join(dir, 'zones.yaml'),
    `domains:
- domain: example.org
  ttl: 30
  records:
    example.org:
      - soa: ns1.example.org hostmaster.example.org 1 3600 900 604800 300
      - ns: ns1.example.org
    ns1.example.org:
      - a: 127.0.0.53
${service}
    default.service.example.org:
      - a: ${NODES.au}
  services:
    example.org: [ '%cn.service.example.org', 'default.service.example.org' ]
    www.example.org: [ '%cn.service.example.org', 'default.service.example.org' ]
`,
  );
  writeFileSync(
    join(dir, 'pdns.conf'),
    `launch=geoip\ngeoip-database-files=mmdb:${geoFile}\ngeoip-zones-file=${dir}/zones.yaml\nedns-subnet-processing=yes\nlocal-address=127.0.0.1\nlocal-port=${port}\nsocket-dir=${dir}\nreceiver-threads=2\ndistributor-threads=2\nsetuid=\nsetgid=\n`,
  );
  const { child } = await start(
    'pdns_server',
    [
      `--config-dir=${dir}`,
      '--daemon=no',
      '--guardian=no',
      '--disable-syslog=yes',
      '--write-pid=no',
    ],
    /ready to distribute questions|Done launching threads/i,
  );
  await answering(port);
  return { child, port };
}

async function startKnot() {
  const dir = join(work, 'knot');
  mkdirSync(dir, { recursive: true });
  const port = await freeDnsPort();
  writeFileSync(
    join(dir, 'example.org.zone'),
    `$ORIGIN example.org.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n@ NS ns1\nns1 A 127.0.0.53\n@ 30 A ${NODES.au}\nwww 30 A ${NODES.au}\n`,
  );
  writeFileSync(
    join(dir, 'knot.conf'),
    `server:\n  rundir: "${dir}"\n  listen: 127.0.0.1@${port}\n  udp-workers: 2\n  tcp-workers: 1\n  background-workers: 1\nlog:\n  - target: stderr\n    any: info\ndatabase:\n  storage: "${dir}"\nzone:\n  - domain: example.org\n    storage: "${dir}"\n    file: "example.org.zone"\n`,
  );
  const { child } = await start(
    'knotd',
    ['-c', join(dir, 'knot.conf')],
    /server started|loaded, serial/i,
  );
  await answering(port);
  return { child, port };
}

// ---- measuring ------------------------------------------------------------
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds used so far by `pid` and all its descendants (cluster workers, threads included). */
function cpuSeconds(pid) {
  const stats = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), {
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
      });
    } catch {
      // The process ended while we looked.
    }
  }
  let total = 0;
  const wanted = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, s] of stats) {
      if (!wanted.has(p) && wanted.has(s.ppid)) {
        wanted.add(p);
        grew = true;
      }
    }
  }
  for (const p of wanted) total += stats.get(p)?.ticks ?? 0;
  return total / TICKS;
}

function dnsperf(port, workload, pid) {
  const before = cpuSeconds(pid);
  const r = spawnSync(
    'dnsperf',
    [
      '-s',
      '127.0.0.1',
      '-p',
      String(port),
      '-l',
      String(SECONDS),
      '-c',
      '4',
      '-q',
      '200',
      '-t',
      '2',
      ...workload.args,
    ],
    { encoding: 'utf8' },
  );
  const cpu = cpuSeconds(pid) - before;
  const text = r.stdout + r.stderr;
  const num = (re) => Number(re.exec(text)?.[1] ?? NaN);
  const completed = num(/Queries completed:\s+(\d+)/);
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    latencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    cpuUsPerQuery: completed > 0 ? (cpu * 1e6) / completed : NaN,
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function digAnswer(port, subnet, name = 'www.example.org') {
  const r = spawnSync(
    'dig',
    [
      '@127.0.0.1',
      '-p',
      String(port),
      name,
      'A',
      '+norec',
      '+time=2',
      '+tries=2',
      `+subnet=${subnet}/24`,
    ],
    { encoding: 'utf8' },
  );
  const answer = r.stdout
    .split('\n')
    .filter((l) => /\sIN\s+A\s/.test(l) && !l.startsWith(';'))
    .map((l) => l.trim().split(/\s+/).pop())
    .sort();
  return {
    answer: answer.join(','),
    scope: /CLIENT-SUBNET: [^/\s]+\/\d+\/(\d+)/.exec(r.stdout)?.[1] ?? null,
  };
}

// ---- run ------------------------------------------------------------------
const SERVERS = [
  { name: 'owncdn geodns, 1 process', start: () => startOwncdn(1), geo: true },
  { name: 'owncdn geodns, 2 workers', start: () => startOwncdn(2), geo: true },
  { name: 'bare node:dgram, 1 process', start: () => startBare(1) },
  { name: 'bare node:dgram, 2 workers', start: () => startBare(2) },
  { name: 'gdnsd 3.8 geoip, 2 threads', start: startGdnsd, needs: 'gdnsd', geo: true },
  { name: 'PowerDNS 4.7 geoip', start: startPdns, needs: 'pdns_server', geo: true },
  { name: 'Knot 3.2 plain zone', start: startKnot, needs: 'knotd' },
];

const results = [];
const skipped = [];
const sample = publicSubnets(40);
const answers = new Map();
const ONLY = argValue('--only')?.split(',');
for (const server of SERVERS) {
  if (ONLY && !ONLY.some((o) => server.name.toLowerCase().includes(o.toLowerCase()))) continue;
  if (server.needs && !has(server.needs)) {
    skipped.push(
      `${server.name}: \`${server.needs}\` is not installed (apt-get install -y gdnsd knot pdns-server pdns-backend-geoip)`,
    );
    console.error(`skip ${server.name}: ${server.needs} not installed`);
    continue;
  }
  let running;
  try {
    running = await server.start();
  } catch (error) {
    skipped.push(`${server.name}: did not start (${String(error.message).split('\n')[0]})`);
    console.error(`skip ${server.name}: ${error.message}`);
    continue;
  }
  if (server.geo)
    answers.set(
      server.name,
      sample.map((s) => digAnswer(running.port, s)),
    );
  for (const workload of WORKLOADS) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(dnsperf(running.port, workload, running.child.pid));
    const row = {
      server: server.name,
      workload: workload.name,
      qps: median(runs.map((r) => r.qps)),
      lost: median(runs.map((r) => r.lost)),
      sent: median(runs.map((r) => r.sent)),
      latencyMs: median(runs.map((r) => r.latencyMs)),
      cpuUsPerQuery: median(runs.map((r) => r.cpuUsPerQuery)),
    };
    results.push(row);
    console.error(
      `${row.server} | ${row.workload} | ${Math.round(row.qps)} q/s | lost ${row.lost} | ${row.latencyMs.toFixed(2)} ms | ${row.cpuUsPerQuery.toFixed(1)} µs/q`,
    );
  }
  await stop(running.child);
}
for (const o of origins) o.server.close();

// ---- report -----------------------------------------------------------------
const find = (server, workload) =>
  results.find((r) => r.server === server && r.workload === workload);
const ratio = (a, b) => (a && b ? `${(a.qps / b.qps).toFixed(2)}×` : '–');
const lines = [];
lines.push('# geodns benchmark', '');
lines.push(
  `${new Date().toISOString()}, ${availableParallelism()} cores, Node ${process.version}, dnsperf -c 4 -q 200, ${SECONDS} s × ${RUNS} run(s), median. ${SHORT ? '**Short mode: proves the bench works; numbers are not for comparison.** ' : ''}Load generator and servers share the machine's cores.`,
  '',
  "Workloads: 80% `example.org A` + 20% NXDOMAIN names; the same with one ECS /24 option; the same with ECS from 10,000 different public /24s. Geo servers use the same database (the bundled CC0 country .mmdb converted to GeoIP2-Country shape with owncdn's continent table, bench/geodns/mmdb.mjs) and the same map (NA→us, EU/AF/SA→fr, else au).",
  '',
);
lines.push(
  '| server | workload | q/s | lost | avg latency ms | server CPU µs/query | × bare (same processes) | × PowerDNS | × gdnsd |',
);
lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  const bare = find(
    r.server.includes('2 workers') ? 'bare node:dgram, 2 workers' : 'bare node:dgram, 1 process',
    r.workload,
  );
  lines.push(
    `| ${r.server} | ${r.workload} | ${Math.round(r.qps)} | ${r.lost} of ${r.sent} | ${r.latencyMs.toFixed(2)} | ${r.cpuUsPerQuery.toFixed(1)} | ${r.server.startsWith('owncdn') ? ratio(r, bare) : '–'} | ${ratio(r, find('PowerDNS 4.7 geoip', r.workload))} | ${ratio(r, find('gdnsd 3.8 geoip, 2 threads', r.workload))} |`,
  );
}
lines.push('');
const reference = answers.get('gdnsd 3.8 geoip, 2 threads');
if (reference) {
  lines.push(
    '## Same answers as gdnsd',
    '',
    `${sample.length} random public /24s, \`www.example.org A\` with ECS, compared by dig (answer set; ECS scope shown where they differ).`,
    '',
  );
  for (const [server, list] of answers) {
    if (server.startsWith('gdnsd')) continue;
    const sameAnswer = list.filter((a, i) => a.answer === reference[i].answer).length;
    const sameScope = list.filter((a, i) => a.scope === reference[i].scope).length;
    lines.push(
      `- ${server}: ${sameAnswer}/${sample.length} same answer, ${sameScope}/${sample.length} same scope`,
    );
    list.forEach((a, i) => {
      if (a.answer !== reference[i].answer)
        lines.push(
          `  - ${sample[i]}/24: ${a.answer || '(empty)'} vs gdnsd ${reference[i].answer || '(empty)'}`,
        );
    });
  }
  lines.push('');
}
if (skipped.length > 0) lines.push('## Skipped', '', ...skipped.map((s) => `- ${s}`), '');
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
