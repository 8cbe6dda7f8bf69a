import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { makeSite } from '../../../test/support/tmp.js';
import type { Found } from './entry.js';
import { loadFile } from './loader.js';

const hashOf = (data: string): string =>
  createHash('sha256').update(data).digest('base64url').slice(0, 22);

async function found(dir: string, name: string): Promise<Found> {
  const file = join(dir, name);
  return { urlPath: `/${name}`, file, stats: await stat(file) };
}

const noSiblings = () => undefined;

describe('loadFile (in the load thread)', () => {
  const page = `<p>${'compressible text '.repeat(200)}</p>`;

  it('reads a file with its hash and the compressed variants that are smaller', async () => {
    const dir = await makeSite({ 'page.html': page, 'tiny.html': 'x', 'photo.jpg': page });
    const loaded = await loadFile(await found(dir, 'page.html'), noSiblings, 1 << 20);
    expect(loaded.body?.toString()).toBe(page);
    expect(loaded.hash).toBe(hashOf(page));
    expect(brotliDecompressSync(loaded.br ?? Buffer.alloc(0)).toString()).toBe(page);
    expect(gunzipSync(loaded.gzip ?? Buffer.alloc(0)).toString()).toBe(page);
    // Each buffer owns its memory (nothing pins a larger pool or zlib chunk).
    for (const b of [loaded.body, loaded.br, loaded.gzip])
      expect(b?.buffer.byteLength).toBe(b?.length);
    // A variant that is not smaller is left out; a type not worth compressing gets none.
    const tiny = await loadFile(await found(dir, 'tiny.html'), noSiblings, 1 << 20);
    expect(tiny).toMatchObject({ hash: hashOf('x'), br: null, gzip: null });
    expect(tiny.body?.toString()).toBe('x');
    const photo = await loadFile(await found(dir, 'photo.jpg'), noSiblings, 1 << 20);
    expect(photo).toMatchObject({ br: null, gzip: null });
  });

  it('takes publish-time .br and .gz siblings instead of compressing', async () => {
    const dir = await makeSite({ 'a.css': page, 'a.css.br': 'made at publish', 'a.css.gz': 'gz' });
    const siblings = (urlPath: string) =>
      urlPath === '/a.css.br'
        ? { file: join(dir, 'a.css.br'), size: 15 }
        : urlPath === '/a.css.gz'
          ? { file: join(dir, 'a.css.gz'), size: 2 }
          : undefined;
    const loaded = await loadFile(await found(dir, 'a.css'), siblings, 1 << 20);
    expect(loaded.br?.toString()).toBe('made at publish');
    expect(loaded.gzip?.toString()).toBe('gz');
  });

  it('only hashes a file that stays on disk, and reports a file that cannot be read', async () => {
    const dir = await makeSite({ 'big.html': page });
    const big = await loadFile(await found(dir, 'big.html'), noSiblings, 100);
    expect(big).toEqual({ body: null, hash: hashOf(page), br: null, gzip: null });
    const gone: Found = { ...(await found(dir, 'big.html')), file: join(dir, 'gone.html') };
    await expect(loadFile(gone, noSiblings, 1 << 20)).rejects.toMatchObject({
      code: 'ENOENT',
      message: expect.stringContaining(`cannot read ${join(dir, 'gone.html')}`) as unknown,
    });
  });
});
