import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '@owncdn/core';
import type { Config } from '@owncdn/core';
import { startOrigin } from '@owncdn/origin';
import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeSite, makeTempDir } from '../../../test/support/tmp.js';
import { createRecordingLogger } from './helpers.js';

function configWith(origin: string): Config {
  return parseConfig(
    `site: { domain: example.test }
nodes: [{ name: au, ipv4: 127.0.0.1, continents: [OC], default: true, root: /tmp }]
origin: { ${origin} }
dns: { nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.1 }] }
`,
    '/tmp/owncdn.yaml',
  );
}

describe('operations', () => {
  it('applies a changed config (header rules) on reload, as SIGHUP does', async () => {
    const dir = await makeSite({ 'index.html': 'hi' });
    let current = configWith('headers: [{ match: "/**", headers: { X-Frame-Options: DENY } }]');
    const log = createRecordingLogger();
    const origin = await startOrigin(
      { dir, listen: '127.0.0.1:0', workers: 1, config: current },
      { log, loadConfig: () => Promise.resolve(current) },
    );
    onTestFinished(() => origin.close());
    const base = `http://${origin.address.http[0] ?? ''}`;
    const before = await request(`${base}/`);
    await before.body.dump();
    expect(before.headers['x-frame-options']).toBe('DENY');
    expect(before.headers['content-security-policy']).toBeUndefined();
    current = configWith(
      `headers: [{ match: "/**", headers: { Content-Security-Policy: "default-src 'self'" } }]`,
    );
    await origin.reload();
    const after = await request(`${base}/`);
    await after.body.dump();
    expect(after.headers['x-frame-options']).toBeUndefined();
    expect(after.headers['content-security-policy']).toBe("default-src 'self'");
  });

  it('writes an access log in combined format or JSON lines when asked', async () => {
    const dir = await makeSite({ 'index.html': 'hello' });
    const logs = await makeTempDir('owncdn-access-');
    for (const format of ['combined', 'json'] as const) {
      const file = join(logs, `${format}.log`);
      const origin = await startOrigin(
        {
          dir,
          listen: '127.0.0.1:0',
          workers: 1,
          config: configWith(`accessLog: ${file}, accessLogFormat: ${format}`),
        },
        { log: createRecordingLogger() },
      );
      const base = `http://${origin.address.http[0] ?? ''}`;
      const ok = await request(`${base}/?q=1`, {
        headers: { 'user-agent': 'probe/1.0', referer: 'https://ref.test/' },
      });
      await ok.body.dump();
      const missing = await request(`${base}/missing`);
      await missing.body.dump();
      await origin.close();
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(2);
      if (format === 'combined') {
        expect(lines[0]).toMatch(
          /^127\.0\.0\.1 - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/\?q=1 HTTP\/1\.1" 200 5 "https:\/\/ref\.test\/" "probe\/1\.0"$/,
        );
        expect(lines[1]).toContain('"GET /missing HTTP/1.1" 404 10 "-"');
      } else {
        expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
          method: 'GET',
          url: '/?q=1',
          status: 200,
          bytes: 5,
          ua: 'probe/1.0',
          referer: 'https://ref.test/',
        });
        expect(JSON.parse(lines[1] ?? '{}')).toMatchObject({ url: '/missing', status: 404 });
      }
    }
  });

  it('logs origin listening exactly once, with where it serves', async () => {
    const dir = await makeSite({ 'index.html': 'hi' });
    const log = createRecordingLogger();
    const origin = await startOrigin({ dir, listen: '127.0.0.1:0', workers: 1 }, { log });
    onTestFinished(() => origin.close());
    const listening = log.records.filter((r) => r.msg === 'origin listening');
    expect(listening).toHaveLength(1);
    expect(listening[0]?.level).toBe('info');
    expect(listening[0]?.obj).toMatchObject({
      node: null,
      http: origin.address.http[0],
      https: null,
      release: 'site',
    });
  });

  it('stops when its abort signal fires', async () => {
    const dir = await makeSite({ 'index.html': 'hi' });
    const controller = new AbortController();
    const origin = await startOrigin(
      { dir, listen: '127.0.0.1:0', workers: 1 },
      { log: createRecordingLogger(), signal: controller.signal },
    );
    const base = `http://${origin.address.http[0] ?? ''}`;
    const ok = await request(`${base}/`);
    await ok.body.dump();
    controller.abort();
    await origin.close();
    await expect(request(`${base}/`)).rejects.toThrow();
  });

  it('fails with OWNCDN_ORIGIN_LISTEN_FAILED when the port is taken', async () => {
    const dir = await makeSite({ 'index.html': 'hi' });
    const first = await startOrigin(
      { dir, listen: '127.0.0.1:0', workers: 1 },
      { log: createRecordingLogger() },
    );
    onTestFinished(() => first.close());
    const taken = first.address.http[0] ?? '';
    await expect(
      startOrigin({ dir, listen: taken, workers: 1 }, { log: createRecordingLogger() }),
    ).rejects.toMatchObject({
      code: 'OWNCDN_ORIGIN_LISTEN_FAILED',
      message: `cannot listen for HTTP on ${taken}: EADDRINUSE (another server holds the port)`,
    });
  });

  it('lets a response in flight finish when closing (drain), then stops', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 97);
    const dir = await makeSite({ 'big.bin': big });
    const origin = await startOrigin(
      {
        dir,
        listen: '127.0.0.1:0',
        workers: 1,
        config: configWith('maxMemoryFileSize: 64KiB, drainTimeout: 20s'),
      },
      { log: createRecordingLogger() },
    );
    const base = `http://${origin.address.http[0] ?? ''}`;
    const response = await request(`${base}/big.bin`);
    expect(response.statusCode).toBe(200);
    // Headers are in, most of the 4 MiB body is not: close now.
    const closed = origin.close();
    const body = Buffer.from(await response.body.arrayBuffer());
    expect(body.length).toBe(big.length);
    await closed;
    await expect(request(`${base}/big.bin`)).rejects.toThrow();
  });
});
