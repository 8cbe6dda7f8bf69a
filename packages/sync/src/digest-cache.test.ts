import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSite, makeTempDir } from '../../../test/support/tmp.js';
import { loadDigests, saveDigests } from './digest-cache.js';
import type { SiteCache } from './digest-cache.js';
import { hashSource } from './site-hash.js';

const FILTERS = ['+ /.well-known/', '- .*'];
const FAKE = 'f'.repeat(64);

/** A cache as the next push would load it, saved `ageMs` after now. */
async function roundTrip(
  summary: Awaited<ReturnType<typeof hashSource>>,
  ageMs = 5_000,
): Promise<SiteCache> {
  const file = join(await makeTempDir(), 'digests.json');
  await saveDigests(file, summary.fileDigests, summary.listing, Date.now() + ageMs);
  return loadDigests(file);
}

describe('digest cache', () => {
  it('reuses a digest while the stamp is unchanged, and hashes again after any write', async () => {
    const site = await makeSite({ 'a.html': 'one', 'b.html': 'two' });
    const first = await hashSource(site, FILTERS);
    const a = first.fileDigests.get('a.html');
    expect(a?.digest).toMatch(/^[0-9a-f]{64}$/);
    // A cached digest that differs from the content shows whether the file was read.
    const files = new Map([...first.fileDigests].map(([n, d]) => [n, { ...d, digest: FAKE }]));
    const known: SiteCache = { files, listing: null };
    const cached = await hashSource(site, FILTERS, { known });
    expect(cached.fileDigests.get('a.html')?.digest).toBe(FAKE);
    expect(cached.bytes).toBe(first.bytes);

    await writeFile(join(site, 'a.html'), 'uno'); // same size: only ctime (and mtime) tell
    const again = await hashSource(site, FILTERS, { known });
    expect(again.fileDigests.get('a.html')?.digest).not.toBe(FAKE);
    expect(again.fileDigests.get('a.html')?.digest).not.toBe(a?.digest);
    expect(again.fileDigests.get('b.html')?.digest).toBe(FAKE);
  });

  it('reuses the listing until a directory changes or the filters do', async () => {
    const site = await makeSite({ 'a.html': 'one', 'd/b.html': 'two', '.env': 'x' });
    const first = await hashSource(site, FILTERS);
    const cache = await roundTrip(first);
    expect(cache.listing?.names.map((n) => n.name)).toEqual(['a.html', 'd', 'd/b.html']);
    // A cached listing without d/b.html shows whether rsync listed again.
    const planted: SiteCache = {
      files: cache.files,
      listing: cache.listing && {
        ...cache.listing,
        names: cache.listing.names.filter((n) => n.name !== 'd/b.html'),
      },
    };
    expect((await hashSource(site, FILTERS, { known: planted })).files).toBe(1);
    await writeFile(join(site, 'd', 'c.html'), 'new'); // d's mtime changes
    expect((await hashSource(site, FILTERS, { known: planted })).files).toBe(3);
    const relisted = await hashSource(site, FILTERS, { known: cache });
    expect(relisted.files).toBe(3);
    expect(relisted.hash).not.toBe(first.hash);
    const otherFilters = await hashSource(site, ['- *.html', ...FILTERS], { known: cache });
    expect(otherFilters.files).toBe(0);
    // A rename inside a directory changes it too.
    const cache2 = await roundTrip(relisted);
    await mkdir(join(site, 'e'));
    await rename(join(site, 'd', 'c.html'), join(site, 'e', 'c.html'));
    const moved = await hashSource(site, FILTERS, { known: cache2 });
    expect([...moved.fileDigests.keys()].sort()).toEqual(['a.html', 'd/b.html', 'e/c.html']);
  });

  it('round-trips through its file, leaving out entries written in the last moments', async () => {
    const site = await makeSite({ 'a.html': 'one' });
    const cacheFile = join(await makeTempDir(), 'nested', 'digests.json');
    const { fileDigests, listing } = await hashSource(site, FILTERS);
    const ctimeMs = (await stat(join(site, 'a.html'))).ctimeMs;

    await saveDigests(cacheFile, fileDigests, listing, ctimeMs + 50);
    const racy = await loadDigests(cacheFile);
    expect(racy.files.size).toBe(0);
    // The directory was written in the same moment too: its listing is not trusted either.
    const emptied: SiteCache = {
      files: racy.files,
      listing: racy.listing && { ...racy.listing, names: [] },
    };
    expect((await hashSource(site, FILTERS, { known: emptied })).files).toBe(1);
    await saveDigests(cacheFile, fileDigests, listing, ctimeMs + 5_000);
    expect((await loadDigests(cacheFile)).files.get('a.html')?.digest).toBe(
      fileDigests.get('a.html')?.digest,
    );
    expect((await stat(cacheFile)).mode & 0o777).toBe(0o600);

    await writeFile(cacheFile, '{"format":3,"files":');
    expect((await loadDigests(cacheFile)).files.size).toBe(0);
    expect((await loadDigests(join(site, 'missing.json'))).listing).toBeNull();
  });
});
