// What run.mjs and ab.mjs share: the bench site, starting and stopping servers as
// process groups, their resident memory, and wrk.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');
export const OWNCDN_BIN = join(ROOT, 'packages', 'cli', 'bin', 'owncdn.js');

export function has(program) {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes the bench site in a fresh temporary directory: a 4 KiB page (and its
 * .gz), a 100 KiB asset, and 16 KiB filler pages up to `siteMiB`, so that
 * memory means something. Synced to disk before returning.
 */
export function makeSite(siteMiB) {
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
  // Flush what was just written: the kernel's writeback otherwise lands ~30 s later, in the
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
  return { work, site, page, asset, fillerCount, siteBytes };
}

export function get(port, path, headers = {}) {
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

export async function waitReady(port, child, name) {
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
export function groupPids(pgid) {
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
  return out.sort((a, b) => a - b);
}

/** VmRSS of each process of the group, MiB, lowest PID (the leader) first. */
export function rssEachMiB(pgid) {
  const out = [];
  for (const pid of groupPids(pgid)) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      out.push(Number(match?.[1] ?? 0) / 1024);
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

export async function stop(child) {
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

export function parseWrk(text) {
  const unit = (value, u) => Number(value) * (u === 'us' ? 1 : u === 'ms' ? 1_000 : 1_000_000);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const avg = /Latency\s+([\d.]+)(us|ms|s)\b/.exec(text);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)\b/.exec(text);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(text);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const socketErrors = /Socket errors: (.*)/.exec(text);
  return {
    rps,
    requests,
    avgUs: avg ? unit(avg[1], avg[2]) : NaN,
    p50Us: p50 ? unit(p50[1], p50[2]) : NaN,
    p99Us: p99 ? unit(p99[1], p99[2]) : NaN,
    errors: Number(errors?.[1] ?? 0),
    socketErrors: socketErrors?.[1] ?? null,
  };
}

export function wrk(port, path, { connections, threads, headers = [], seconds }) {
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
    { encoding: 'utf8' },
  );
  return parseWrk(out);
}

/** `owncdn origin --dir site` on 127.0.0.1:port with `workers` worker processes, as its own process group. */
export function startOwncdn(site, port, workers, env = process.env) {
  return spawn(
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
    { detached: true, stdio: ['ignore', 'ignore', 'inherit'], env },
  );
}

/** A server script of bench/origin (`node script site port workers`), as its own process group. */
export function startScript(script, site, port, workers, env = process.env) {
  return spawn(process.execPath, [script, site, String(port), String(workers)], {
    detached: true,
    stdio: 'ignore',
    env,
  });
}

/** Sorted copy. */
const sorted = (values) => [...values].sort((a, b) => a - b);

/**
 * The order of `items` for `round`: rotated by the round, and reversed in
 * every other cycle of rotations, so each goes first as often as the others
 * and follows each of them as often (two: AB BA BA AB …). Reversing every
 * other round instead undid the rotation for two: A always went first.
 */
export function turnOrder(items, round) {
  const shift = round % items.length;
  const order = [...items.slice(shift), ...items.slice(0, shift)];
  return Math.floor(round / items.length) % 2 === 1 ? order.reverse() : order;
}

/** Quantile q (0..1) by linear interpolation between the closest ranks. */
export function quantile(values, q) {
  const s = sorted(values);
  if (s.length === 0) return NaN;
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
}

export const median = (values) => quantile(values, 0.5);

/**
 * CPU time of every thread of every process of a group, ns, from
 * /proc/<pid>/task/<tid>/schedstat (the scheduler's own count: no 10 ms tick
 * rounding as in /proc/<pid>/stat). Threads that ended meanwhile are lost.
 */
export function groupCpuNs(pgid) {
  let total = 0;
  for (const pid of groupPids(pgid)) {
    let tasks;
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // ended meanwhile
    }
    for (const tid of tasks) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // ended meanwhile
      }
    }
  }
  return total;
}
