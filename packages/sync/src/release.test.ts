import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSite } from '../../../test/support/tmp.js';
import { chooseRelease, makeReleaseId, releaseTime } from './release.js';
import { applyContentTimes, hashSource } from './site-hash.js';
import { contentTimeUs, readSmallFile } from './site-file.js';

const FILTERS = ['+ /.well-known/', '- .*'];

describe('content-derived mtimes', () => {
  it('sets each file to its content time once, to the microsecond, and then leaves it alone', async () => {
    // Enough files that about half of their times fall on a microsecond a double truncates.
    const tree = Object.fromEntries(
      Array.from({ length: 64 }, (_, i) => [`f${i}.html`, `content ${i}`]),
    );
    const site = await makeSite(tree);
    const summary = await hashSource(site, FILTERS);
    const first = await applyContentTimes(site, summary);
    expect(first.changed).toBe(64);
    for (const [name, file] of first.digests) {
      const info = await stat(join(site, name), { bigint: true });
      expect(info.mtimeNs / 1000n).toBe(BigInt(contentTimeUs(file.digest)));
    }
    // A second push (same content) finds every time already right: no utimes, so ctimes stay.
    const again = await applyContentTimes(site, await hashSource(site, FILTERS));
    expect(again.changed).toBe(0);
  });

  it('sets them while hashing when asked, leaving stamps that match the files', async () => {
    const tree = Object.fromEntries(
      Array.from({ length: 64 }, (_, i) => [`d${i % 4}/f${i}.html`, `content ${i}`]),
    );
    const site = await makeSite(tree);
    const before = await stat(join(site, 'd0/f0.html'));
    // Without contentTimes, hashing reads and changes nothing.
    await hashSource(site, FILTERS);
    expect((await stat(join(site, 'd0/f0.html'))).mtimeMs).toBe(before.mtimeMs);

    const summary = await hashSource(site, FILTERS, { contentTimes: true });
    expect(summary.files).toBe(64);
    for (const [name, file] of summary.fileDigests) {
      const info = await stat(join(site, name), { bigint: true });
      expect(info.mtimeNs / 1000n).toBe(BigInt(contentTimeUs(file.digest)));
      // The stamp is the one after the time was set: the next push reads nothing.
      const plain = await stat(join(site, name));
      expect([file.mtimeMs, file.ctimeMs, file.ino]).toEqual([
        plain.mtimeMs,
        plain.ctimeMs,
        plain.ino,
      ]);
    }
    expect((await applyContentTimes(site, summary)).changed).toBe(0);
  });

  it('refuses a listed file that became a symlink or a FIFO, without following or waiting', async () => {
    const site = await makeSite({ 'a.html': 'A', 'secret.txt': 'outside' });
    await symlink(join(site, 'secret.txt'), join(site, 'link.html'));
    expect(() => readSmallFile(join(site, 'link.html'), false)).toThrow(/ELOOP/);
    execFileSync('mkfifo', [join(site, 'pipe.html')]);
    expect(() => readSmallFile(join(site, 'pipe.html'), false)).toThrow(/no longer a regular file/);
    expect(readSmallFile(join(site, 'a.html'), false).digest).toBe(
      createHash('sha256').update('A').digest('hex'),
    );
  });

  it('refuses a file holding more than its size said, and reads one of exactly its size', async () => {
    // /proc files are regular files whose stat size (0) is not what they hold:
    // as a site file that grew between its stat and its read looks.
    expect(() => readSmallFile('/proc/self/status', false)).toThrow(
      /was written while it was read/,
    );
    const site = await makeSite({
      'empty.html': '',
      'one.html': 'x',
      'big.html': 'y'.repeat(70_000),
    });
    for (const [name, text] of [
      ['empty.html', ''],
      ['one.html', 'x'],
      ['big.html', 'y'.repeat(70_000)],
    ] as const) {
      const read = readSmallFile(join(site, name), false);
      expect(read.digest).toBe(createHash('sha256').update(text).digest('hex'));
      expect(read.stamp.size).toBe(text.length);
    }
  });

  it('gives the same content the same time, within the documented range', () => {
    const digest = 'ab'.repeat(32);
    const us = contentTimeUs(digest);
    expect(contentTimeUs(digest)).toBe(us);
    expect(us).toBeGreaterThanOrEqual(1_000_000_000 * 1e6);
    expect(us).toBeLessThan((1_000_000_000 + 2 ** 29) * 1e6);
    expect(Number.isSafeInteger(us)).toBe(true);
  });
});

describe('listing the site', () => {
  it('walks it as rsync lists it with the default filters, without running rsync', async () => {
    const site = await makeSite({
      'index.html': 'home',
      'a b.html': 'space',
      'ünï/çödé.html': 'unicode',
      'new\nline.html': 'newline',
      '.hidden.html': 'dotfile',
      '.git/config': 'repository',
      'sub/.env': 'secret',
      'sub/page.html': 'page',
      'sub/.well-known/x': 'not at the top',
      '.well-known/acme-challenge/token': 'challenge',
      '.well-known/.secret': 'dotfile inside',
    });
    await mkdir(join(site, 'empty'));
    await symlink('index.html', join(site, 'link.html'));
    await symlink('nowhere', join(site, 'dangling'));
    await symlink('sub', join(site, 'alias'));
    await symlink('index.html', join(site, '.dotlink'));
    execFileSync('mkfifo', [join(site, 'pipe')]);

    // The same rules plus one that matches nothing: listed by rsync itself.
    const byRsync = await hashSource(site, ['- /no-such-name', ...FILTERS]);
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent'; // no rsync to be found: the walk must do without
    let walked: Awaited<ReturnType<typeof hashSource>>;
    try {
      walked = await hashSource(site, FILTERS);
    } finally {
      process.env.PATH = path;
    }
    expect(walked.listing?.names).toEqual(byRsync.listing?.names);
    expect(walked.hash).toBe(byRsync.hash);
    expect(walked.listing?.names.map((n) => `${n.kind} ${n.name}`)).toEqual(
      [
        '- a b.html',
        'l alias',
        'l dangling',
        'd empty',
        '- index.html',
        'l link.html',
        '- new\nline.html',
        'd sub',
        '- sub/page.html',
        'd ünï',
        '- ünï/çödé.html',
        'd .well-known',
        'd .well-known/acme-challenge',
        '- .well-known/acme-challenge/token',
      ].sort((a, b) => (a.slice(2) < b.slice(2) ? -1 : 1)),
    );
  });
});

describe('release ids', () => {
  const hash = '0123456789ab';
  const at = (iso: string) => new Date(iso);

  it('take the push time, or a second after the newest release a node holds', () => {
    const held = [makeReleaseId(at('2026-11-23T10:00:00.400Z'), hash)];
    expect(held).toEqual(['20261123T100000Z-0123456789ab']);
    // Later second: the push time.
    expect(releaseTime(at('2026-11-23T10:00:01.100Z'), held).toISOString()).toBe(
      '2026-11-23T10:00:01.100Z',
    );
    // The same second, or a clock behind the last push: one second after it.
    for (const now of ['2026-11-23T10:00:00.900Z', '2026-11-23T09:58:00.000Z'])
      expect(releaseTime(at(now), held).toISOString()).toBe('2026-11-23T10:00:01.000Z');
    // Nothing held (or no release id among it): the push time.
    expect(releaseTime(at('2026-11-23T10:00:00.000Z'), ['not-an-id']).toISOString()).toBe(
      '2026-11-23T10:00:00.000Z',
    );
  });

  it('reuse the newest complete release of the same content, else make a new one', () => {
    const full = `${hash}${'f'.repeat(52)}`;
    const now = at('2026-11-23T12:00:00.000Z');
    const held = [
      { id: '20261123T100000Z-0123456789ab', complete: true },
      { id: '20261123T110000Z-0123456789ab', complete: true },
      { id: '20261123T113000Z-0123456789ab', complete: false }, // a partial upload
      { id: '20261123T115959Z-ffffffffffff', complete: true },
    ];
    expect(chooseRelease(full, held, now)).toEqual({
      id: '20261123T110000Z-0123456789ab',
      reused: true,
    });
    // Other content, or none complete: a new id at the push time (the newest held is older).
    expect(chooseRelease('a'.repeat(64), held, now)).toEqual({
      id: '20261123T120000Z-aaaaaaaaaaaa',
      reused: false,
    });
    expect(chooseRelease(full, held.slice(2), now)).toEqual({
      id: '20261123T120000Z-0123456789ab',
      reused: false,
    });
  });
});
