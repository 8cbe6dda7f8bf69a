import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSite, makeTempDir } from '../../../test/support/tmp.js';
import { loadDigests, saveDigests } from './digest-cache.js';
import { hashSource } from './release.js';

const FILTERS = ['+ /.well-known/', '- .*'];
const FAKE = 'f'.repeat(64);

describe('digest cache', () => {
  it('reuses a digest while the stamp is unchanged, and hashes again after any write', async () => {
    const site = await makeSite({ 'a.html': 'one', 'b.html': 'two' });
    const first = await hashSource(site, FILTERS);
    const a = first.fileDigests.get('a.html');
    expect(a?.digest).toMatch(/^[0-9a-f]{64}$/);
    // A cached digest that differs from the content shows whether the file was read.
    const known = new Map([...first.fileDigests].map(([n, d]) => [n, { ...d, digest: FAKE }]));
    const cached = await hashSource(site, FILTERS, undefined, known);
    expect(cached.fileDigests.get('a.html')?.digest).toBe(FAKE);
    expect(cached.bytes).toBe(first.bytes);

    await writeFile(join(site, 'a.html'), 'uno'); // same size: only ctime (and mtime) tell
    const again = await hashSource(site, FILTERS, undefined, known);
    expect(again.fileDigests.get('a.html')?.digest).not.toBe(FAKE);
    expect(again.fileDigests.get('a.html')?.digest).not.toBe(a?.digest);
    expect(again.fileDigests.get('b.html')?.digest).toBe(FAKE);
  });

  it('round-trips through its file, leaving out entries written in the last moments', async () => {
    const site = await makeSite({ 'a.html': 'one' });
    const cacheFile = join(await makeTempDir(), 'nested', 'digests.json');
    const { fileDigests } = await hashSource(site, FILTERS);
    const ctimeMs = (await stat(join(site, 'a.html'))).ctimeMs;

    await saveDigests(cacheFile, fileDigests, ctimeMs + 50);
    expect((await loadDigests(cacheFile)).size).toBe(0);
    await saveDigests(cacheFile, fileDigests, ctimeMs + 5_000);
    expect((await loadDigests(cacheFile)).get('a.html')?.digest).toBe(
      fileDigests.get('a.html')?.digest,
    );
    expect((await stat(cacheFile)).mode & 0o777).toBe(0o600);

    await writeFile(cacheFile, '{"format":2,"files":');
    expect((await loadDigests(cacheFile)).size).toBe(0);
    expect((await loadDigests(join(site, 'missing.json'))).size).toBe(0);
  });
});
