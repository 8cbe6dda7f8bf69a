import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  createRecordingLogger,
  makeNodeRoot,
  nodeConfig,
  serveNode,
  serveTree,
} from './helpers.js';

describe('hot reload', () => {
  it('serves an added, changed or removed file in --dir mode without a restart', async () => {
    const log = createRecordingLogger();
    const { base, dir } = await serveTree({ 'index.html': 'one', 'keep.css': 'p{}' }, {}, log);
    const text = async (path: string) => {
      const r = await request(`${base}${path}`);
      return `${r.statusCode} ${await r.body.text()}`;
    };
    expect(await text('/')).toBe('200 one');
    let seen = log.records.length;
    await writeFile(join(dir, 'index.html'), 'two');
    await log.waitFor('release activated', () => true, seen);
    expect(await text('/')).toBe('200 two');
    seen = log.records.length;
    await writeFile(join(dir, 'new.txt'), 'new');
    await log.waitFor('release activated', () => true, seen);
    expect(await text('/new.txt')).toBe('200 new');
    seen = log.records.length;
    await rm(join(dir, 'new.txt'));
    await log.waitFor('release activated', (o) => o.files === 2, seen);
    expect(await text('/new.txt')).toBe('404 not found\n');
    expect(await text('/keep.css')).toBe('200 p{}');
    // A new directory, a precompressed sibling, then the directory removed again.
    seen = log.records.length;
    await mkdir(join(dir, 'docs'));
    await writeFile(join(dir, 'docs', 'index.html'), 'docs');
    await log.waitFor('release activated', (o) => o.files === 3, seen);
    expect(await text('/docs/')).toBe('200 docs');
    seen = log.records.length;
    await writeFile(join(dir, 'keep.css.br'), 'b');
    await log.waitFor('release activated', (o) => o.files === 4, seen);
    const br = await request(`${base}/keep.css`, { headers: { 'accept-encoding': 'br' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(await br.body.text()).toBe('b');
    seen = log.records.length;
    await rm(join(dir, 'docs'), { recursive: true });
    await log.waitFor('release activated', (o) => o.files === 3, seen);
    expect(await text('/docs/')).toBe('404 not found\n');
    expect(await text('/')).toBe('200 two');
  });

  it('updates every name of a file that a symlink also serves', async () => {
    const log = createRecordingLogger();
    const { base, dir } = await serveTree({ 'page.html': 'v1' }, {}, log);
    let seen = log.records.length;
    await symlink('page.html', join(dir, 'alias.html'));
    await log.waitFor('release activated', (o) => o.files === 2, seen);
    seen = log.records.length;
    await writeFile(join(dir, 'page.html'), 'v2');
    await log.waitFor('release activated', () => true, seen);
    for (const path of ['/page.html', '/alias.html']) {
      const r = await request(`${base}${path}`);
      expect(await r.body.text()).toBe('v2');
    }
  });

  it('reports no-release until current exists, then serves it', async () => {
    const node = await makeNodeRoot();
    const log = createRecordingLogger();
    const { http } = await serveNode(nodeConfig(node.root), {}, log);
    const before = await request(`${http}/healthz`);
    expect(before.statusCode).toBe(503);
    expect(await before.body.json()).toMatchObject({
      status: 'no-release',
      node: 'au',
      release: null,
      files: 0,
      tls: false,
    });
    const page = await request(`${http}/`);
    expect(page.statusCode).toBe(503);
    expect(page.headers['x-owncdn-node']).toBe('au');
    await page.body.dump();
    await node.addRelease('r1', { 'index.html': 'first' });
    await node.activate('r1');
    await log.waitFor('release activated', (o) => o.release === 'r1');
    const after = await request(`${http}/healthz`);
    expect(after.statusCode).toBe(200);
    expect(await after.body.json()).toMatchObject({
      status: 'ok',
      node: 'au',
      release: 'r1',
      files: 1,
      bytes: 5,
      certificates: [],
      tls: false,
      version: '0.0.0',
    });
    const served = await request(`${http}/`);
    expect(served.headers['x-owncdn-node']).toBe('au');
    expect(await served.body.text()).toBe('first');
  });

  it('switches releases under load with no failed request and no mixed response', async () => {
    const node = await makeNodeRoot();
    const release = (id: string) => ({
      'index.html': `<p>${id}</p>`.repeat(200),
      ...Object.fromEntries(
        Array.from({ length: 30 }, (_, i) => [`assets/f${i}.css`, `/*${id}*/`.repeat(100 + i)]),
      ),
    });
    await node.addRelease('aaa', release('aaa'));
    await node.addRelease('bbb', release('bbb'));
    await node.activate('aaa');
    const log = createRecordingLogger();
    const { http } = await serveNode(nodeConfig(node.root), {}, log);
    const agent = new Agent({ connections: 4 });
    onTestFinished(() => agent.close());
    const paths = ['/', ...Array.from({ length: 30 }, (_, i) => `/assets/f${i}.css`)];
    let switched = false;
    let afterSwitch = 0;
    const failures: string[] = [];
    const seen = { aaa: 0, bbb: 0 };
    const client = async (offset: number) => {
      // Each client is sequential: once it has seen the new release it must never see the old one.
      let sawNew = false;
      for (let i = offset; !switched || afterSwitch < 200; i++) {
        const path = paths[i % paths.length] ?? '/';
        const r = await request(`${http}${path}`, {
          dispatcher: agent,
          headers: { 'accept-encoding': i % 2 ? 'gzip' : 'identity' },
        });
        const raw = Buffer.from(await r.body.arrayBuffer());
        const body =
          r.headers['content-encoding'] === 'gzip'
            ? (await import('node:zlib')).gunzipSync(raw).toString()
            : raw.toString();
        const ids = new Set(body.match(/aaa|bbb/g));
        if (r.statusCode !== 200 || ids.size !== 1)
          failures.push(`${path}: ${r.statusCode} ${[...ids].join('+')}`);
        const id = ids.has('bbb') ? 'bbb' : 'aaa';
        seen[id]++;
        if (id === 'bbb') sawNew = true;
        else if (sawNew) failures.push(`${path}: old release after the new one`);
        if (switched) afterSwitch++;
      }
    };
    const load = Promise.all([0, 7, 13, 21].map(client));
    await node.activate('bbb');
    await log.waitFor('release activated', (o) => o.release === 'bbb');
    switched = true;
    await load;
    expect(failures).toEqual([]);
    expect(seen.aaa).toBeGreaterThan(0);
    expect(seen.bbb).toBeGreaterThan(0);
    const health = await request(`${http}/healthz`);
    expect(await health.body.json()).toMatchObject({ release: 'bbb', files: 31 });
  });
});
