import {
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeSite, makeTempDir } from '../../../test/support/tmp.js';
import { push, rollback, status } from '../src/index.js';
import type { SyncEvent } from '../src/index.js';
import { NODE_NAMES, startCluster } from './fixture.js';

const SITE = {
  'index.html': '<h1>hello</h1>',
  'assets/app.css': 'body { color: red }',
  'blog/mon été.html': '<p>été</p>',
  'files/a b c.txt': 'spaces',
  '.well-known/security.txt': 'Contact: mailto:me@example.test',
  '.env': 'SECRET=1',
  '.git/HEAD': 'ref: refs/heads/main',
};

async function currentOf(root: string): Promise<string> {
  return readlink(join(root, 'current'));
}

/**
 * Options for a push of `site` at second `second` of 2026 (release ids sort by
 * time to the second), with a digest cache of the test's own.
 */
function pushAt(site: string, second: number) {
  return {
    content: site,
    digestCache: join(site, '..', 'cache', 'digests.json'),
    confirmTimeoutMs: 100,
    now: new Date(`2026-01-01T00:00:0${second}Z`),
  };
}

/** Every entry under `dir` (dotfiles left out, as a push does): `name kind content-or-target`. */
async function treeOf(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    if (name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${name}` : name;
    const info = await lstat(join(dir, rel));
    if (info.isSymbolicLink()) out.push(`${rel} -> ${await readlink(join(dir, rel))}`);
    else if (info.isDirectory()) out.push(`${rel}/`, ...(await treeOf(dir, rel)));
    else out.push(`${rel}: ${await readFile(join(dir, rel), 'utf8')}`);
  }
  return out;
}

describe('push over ssh to three nodes', { timeout: 60_000 }, () => {
  it('publishes a release everywhere, then hard-links unchanged files on the next push', async () => {
    const cluster = await startCluster();
    const site = await makeSite(SITE);
    const events: SyncEvent[] = [];
    const first = await push(cluster.config, { content: site, onEvent: (e) => events.push(e) });
    expect(first.error).toBeNull();
    expect(first.ok).toBe(true);
    expect(first.release).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{12}$/);
    expect(first.files).toBe(5);
    for (const name of NODE_NAMES) {
      const root = cluster.roots[name] ?? '';
      expect(await currentOf(root)).toBe(`releases/${first.release}`);
      expect(await readFile(join(root, 'current/blog/mon été.html'), 'utf8')).toBe('<p>été</p>');
      expect(await readFile(join(root, 'current/.well-known/security.txt'), 'utf8')).toMatch(
        /Contact/,
      );
      expect((await readdir(join(root, 'current'))).sort()).toEqual([
        '.well-known',
        'assets',
        'blog',
        'files',
        'index.html',
      ]);
      expect((await stat(join(root, 'current/index.html'))).mode & 0o777).toBe(0o644);
    }
    expect(first.nodes.map((n) => [n.node, n.state, n.confirmation, n.filesTransferred])).toEqual([
      ['au', 'confirmed', 'confirmed', 5],
      ['us', 'confirmed', 'confirmed', 5],
      ['fr', 'confirmed', 'confirmed', 5],
    ]);
    expect(first.switchSkewMs).toEqual(expect.any(Number));
    expect(
      events
        .filter((e) => e.type === 'state' && e.state === 'switched')
        .map((e) => e.type === 'state' && e.node)
        .sort(),
    ).toEqual(['au', 'fr', 'us']);
    expect(events.some((e) => e.type === 'progress')).toBe(true);

    await writeFile(join(site, 'index.html'), '<h1>hello again</h1>');
    // No live lines to show: rsync reports no running totals (a line per file).
    const quiet: SyncEvent[] = [];
    const second = await push(cluster.config, {
      content: site,
      onEvent: (e) => quiet.push(e),
      progress: false,
    });
    expect(second.ok).toBe(true);
    expect(quiet.some((e) => e.type === 'state' && e.state === 'switched')).toBe(true);
    expect(quiet.filter((e) => e.type === 'progress')).toEqual([]);
    expect(second.release).not.toBe(first.release);
    for (const node of second.nodes) {
      // The first tree copied with hard links on the node, then only the change sent.
      expect([node.upload, node.filesTransferred]).toEqual(['delta', 1]);
      expect(node.previous).toBe(first.release);
      const root = cluster.roots[node.node] ?? '';
      const [before, after] = await Promise.all([
        stat(join(root, 'releases', first.release, 'blog/mon été.html')),
        stat(join(root, 'current/blog/mon été.html')),
      ]);
      expect(after.ino).toBe(before.ino);
      expect(await readFile(join(root, 'current/index.html'), 'utf8')).toBe('<h1>hello again</h1>');
      // The changed file was replaced in the copy, not written through the shared link.
      expect(await readFile(join(root, 'releases', first.release, 'index.html'), 'utf8')).toBe(
        '<h1>hello</h1>',
      );
    }

    // The same content again: nothing to send, nothing to switch.
    const third = await push(cluster.config, { content: site });
    expect(third.release).toBe(second.release);
    expect(third.nodes.map((n) => n.state)).toEqual(['confirmed', 'confirmed', 'confirmed']);
    expect(third.nodes.every((n) => n.bytesSent === 0 && n.filesTransferred === 0)).toBe(true);
    // The copy made for it while the site was hashed is gone again.
    for (const name of NODE_NAMES)
      expect((await readdir(join(cluster.roots[name] ?? '', 'trees'))).sort()).toEqual(['1', '2']);

    const report = await status(cluster.config);
    expect(report).toMatchObject({ ok: true, agree: true, release: second.release });
    expect(report.nodes.map((n) => n.releases)).toEqual(
      [0, 1, 2].map(() => [first.release, second.release]),
    );
    expect(report.nodes.every((n) => n.origin.release === second.release)).toBe(true);
  });

  it('switches no node when one is unreachable, and the others with allowPartial', async () => {
    const cluster = await startCluster();
    const site = await makeSite(SITE);
    const first = await push(cluster.config, { content: site });
    expect(first.ok).toBe(true);
    const closed = await cluster.sshd!.writeClientConfig('closed_fr', {
      au: [],
      us: [],
      fr: ['Port 1'],
    });
    const broken = cluster.withNodes({ fr: { sshConfig: closed } });
    await writeFile(join(site, 'index.html'), 'v2');

    const failed = await push(broken, { content: site });
    expect(failed.ok).toBe(false);
    expect(failed.error?.code).toBe('OWNCDN_SYNC_PUSH_FAILED');
    expect(failed.error?.message).toMatch(
      /^push of \S+ failed on fr; no node was switched \(the live site is unchanged\)\. connect to fr \(fr\) failed: host unreachable/,
    );
    expect(failed.nodes.map((n) => [n.node, n.state])).toEqual([
      ['au', 'not-switched'],
      ['us', 'not-switched'],
      ['fr', 'failed'],
    ]);
    for (const name of NODE_NAMES)
      expect(await currentOf(cluster.roots[name] ?? '')).toBe(`releases/${first.release}`);

    const down = await status(broken);
    expect(down.ok).toBe(false);
    expect(down.nodes.map((n) => [n.node, n.reachable, n.current])).toEqual([
      ['au', true, first.release],
      ['us', true, first.release],
      ['fr', false, null],
    ]);
    expect(down.nodes[2]?.error?.code).toBe('OWNCDN_SSH_UNREACHABLE');

    const partial = await push(broken, { content: site, allowPartial: true });
    expect(partial.ok).toBe(false);
    expect(partial.release).toBe(failed.release);
    expect(partial.nodes.map((n) => [n.node, n.state])).toEqual([
      ['au', 'confirmed'],
      ['us', 'confirmed'],
      ['fr', 'failed'],
    ]);
    // The second attempt reused the upload the failed push left on au and us.
    expect(partial.nodes[0]?.filesTransferred).toBe(0);
    expect(await currentOf(cluster.roots.au ?? '')).toBe(`releases/${partial.release}`);
    expect(await currentOf(cluster.roots.fr ?? '')).toBe(`releases/${first.release}`);
    expect((await status(cluster.config)).agree).toBe(false);
  });

  it('leaves every node on the old release when rsync is killed mid-transfer, and the next push resumes', async () => {
    const cluster = await startCluster();
    const site = await makeSite({ 'index.html': 'v1' });
    const first = await push(cluster.config, { content: site });
    const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => (i * 7919) % 251);
    await writeFile(join(site, 'big.bin'), big);
    await writeFile(join(site, 'index.html'), 'v2');
    const controller = new AbortController();
    let interruptedRelease = '';
    const interrupted = await push(cluster.config, {
      content: site,
      signal: controller.signal,
      bwlimitKiBps: 512,
      onEvent: (e) => {
        if (e.type === 'release') interruptedRelease = e.release;
        if (e.type === 'progress' && e.bytes > 0) controller.abort();
      },
    }).catch((error: unknown) => error);
    expect(interrupted).toMatchObject({ code: 'OWNCDN_SYNC_PUSH_FAILED' });
    expect(interruptedRelease).not.toBe('');
    for (const name of NODE_NAMES) {
      const root = cluster.roots[name] ?? '';
      expect(await currentOf(root)).toBe(`releases/${first.release}`);
      // The half upload is there (tree 2), but no release names it, so nothing can switch to it.
      expect(await readdir(join(root, 'releases'))).toEqual([first.release]);
      expect((await readdir(join(root, 'trees'))).sort()).toEqual(['1', '2']);
    }
    const resumed = await push(cluster.config, { content: site });
    expect(resumed.ok).toBe(true);
    for (const name of NODE_NAMES) {
      const root = cluster.roots[name] ?? '';
      // The next push uploaded into the half-filled tree rather than starting a new one.
      expect((await readdir(join(root, 'trees'))).sort()).toEqual(['1', '2']);
      expect(await readlink(join(root, 'releases', resumed.release))).toBe('../trees/2');
    }
    for (const name of NODE_NAMES)
      expect(
        Buffer.compare(await readFile(join(cluster.roots[name] ?? '', 'current/big.bin')), big),
      ).toBe(0);
  });

  it('rolls back to the previous release, or to a named one, on every node', async () => {
    const cluster = await startCluster();
    const site = await makeSite({ 'index.html': 'v1' });
    const v1 = await push(cluster.config, { content: site, now: new Date('2026-01-01T00:00:01Z') });
    await writeFile(join(site, 'index.html'), 'v2');
    const v2 = await push(cluster.config, { content: site, now: new Date('2026-01-01T00:00:02Z') });
    await writeFile(join(site, 'index.html'), 'v3');
    const v3 = await push(cluster.config, { content: site, now: new Date('2026-01-01T00:00:03Z') });
    expect([v1.ok, v2.ok, v3.ok]).toEqual([true, true, true]);

    const dry = await rollback(cluster.config, { dryRun: true });
    expect(dry.release).toBe(v2.release);
    for (const name of NODE_NAMES)
      expect(await currentOf(cluster.roots[name] ?? '')).toBe(`releases/${v3.release}`);

    const back = await rollback(cluster.config);
    expect(back).toMatchObject({ ok: true, release: v2.release });
    expect(back.nodes.map((n) => n.confirmation)).toEqual(['confirmed', 'confirmed', 'confirmed']);
    for (const name of NODE_NAMES)
      expect(await readFile(join(cluster.roots[name] ?? '', 'current/index.html'), 'utf8')).toBe(
        'v2',
      );

    await rollback(cluster.config, { to: v1.release });
    for (const name of NODE_NAMES)
      expect(await currentOf(cluster.roots[name] ?? '')).toBe(`releases/${v1.release}`);
    await expect(rollback(cluster.config)).rejects.toMatchObject({
      code: 'OWNCDN_SYNC_NOTHING_TO_ROLL_BACK',
    });
    await expect(rollback(cluster.config, { to: '20200101T000000Z-000000000000' })).rejects.toThrow(
      'release 20200101T000000Z-000000000000 is not (completely) on au, us, fr; see owncdn sync status for the releases each node keeps',
    );
  });
});

describe('push to local nodes', { timeout: 60_000 }, () => {
  it('takes over a node written by an earlier owncdn (release directories and .complete markers)', async () => {
    const cluster = await startCluster({ transport: 'local', origins: false, keep: 2 });
    const site = await makeSite({ 'index.html': 'old', 'same.css': 'p{}' });
    const old = await push(cluster.config, {
      content: site,
      confirmTimeoutMs: 100,
      now: new Date('2026-01-01T00:00:01Z'),
    });
    // Rewrite every node the way the earlier layout had it.
    for (const name of NODE_NAMES) {
      const root = cluster.roots[name] ?? '';
      await rm(join(root, 'releases', old.release));
      await rename(join(root, 'trees', '1'), join(root, 'releases', old.release));
      await writeFile(join(root, 'releases', `${old.release}.complete`), '{}\n');
      await rm(join(root, 'trees'), { recursive: true });
    }
    expect((await status(cluster.config)).nodes[0]?.releases).toEqual([old.release]);

    await writeFile(join(site, 'index.html'), 'new');
    const next = await push(cluster.config, {
      content: site,
      confirmTimeoutMs: 100,
      now: new Date('2026-01-01T00:00:02Z'),
    });
    expect(next.ok).toBe(true);
    const root = cluster.roots.au ?? '';
    expect(await readlink(join(root, 'releases', next.release))).toBe('../trees/1');
    // Hard-linked against the old directory release.
    const [a, b] = await Promise.all([
      stat(join(root, 'releases', old.release, 'same.css')),
      stat(join(root, 'current', 'same.css')),
    ]);
    expect(b.ino).toBe(a.ino);
    expect(await rollback(cluster.config)).toMatchObject({ ok: true, release: old.release });
    expect(await readFile(join(root, 'current', 'index.html'), 'utf8')).toBe('old');

    // Two more pushes (keep 2): the directory release is pruned, with its marker.
    await writeFile(join(site, 'index.html'), 'newer');
    await push(cluster.config, {
      content: site,
      confirmTimeoutMs: 100,
      now: new Date('2026-01-01T00:00:03Z'),
    });
    await writeFile(join(site, 'index.html'), 'newest');
    await push(cluster.config, {
      content: site,
      confirmTimeoutMs: 100,
      now: new Date('2026-01-01T00:00:04Z'),
    });
    expect((await readdir(join(root, 'releases'))).some((e) => e.startsWith(old.release))).toBe(
      false,
    );
    expect(await readFile(join(root, 'current', 'index.html'), 'utf8')).toBe('newest');
  });

  it('keeps the last N releases, never the current or previous', async () => {
    const cluster = await startCluster({ transport: 'local', keep: 2 });
    const site = await makeSite({ 'index.html': 'v0' });
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) {
      await writeFile(join(site, 'index.html'), `v${i}`);
      const result = await push(cluster.config, {
        content: site,
        now: new Date(`2026-01-01T00:00:0${i}Z`),
      });
      expect(result.ok).toBe(true);
      ids.push(result.release);
    }
    for (const name of NODE_NAMES) {
      const root = cluster.roots[name] ?? '';
      const releases = (await readdir(join(root, 'releases'))).sort();
      expect(releases).toEqual([ids[2], ids[3]]);
      // The third and fourth pushes reused the trees of the releases they retired.
      expect((await readdir(join(root, 'trees'))).sort()).toEqual(['1', '2']);
      expect(await readlink(join(root, 'releases', ids[2] ?? ''))).toBe('../trees/1');
      expect(await readlink(join(root, 'releases', ids[3] ?? ''))).toBe('../trees/2');
      expect(await readFile(join(root, 'releases', ids[3] ?? '', 'index.html'), 'utf8')).toBe('v4');
      // Updating a reused tree never writes through to the files it shares with other releases.
      expect(await readFile(join(root, 'releases', ids[2] ?? '', 'index.html'), 'utf8')).toBe('v3');
    }
    // The same content again: the release retired early (for its tree) is put back.
    const again = await push(cluster.config, {
      content: site,
      now: new Date('2026-01-01T00:00:09Z'),
    });
    expect(again.release).toBe(ids[3]);
    expect(again.nodes.map((n) => [n.filesTransferred, n.pruned])).toEqual([
      [0, []],
      [0, []],
      [0, []],
    ]);
    for (const name of NODE_NAMES) {
      const root = cluster.roots[name] ?? '';
      expect((await readdir(join(root, 'releases'))).sort()).toEqual([ids[2], ids[3]]);
      expect(await readlink(join(root, 'releases', ids[2] ?? ''))).toBe('../trees/1');
    }
    // After a rollback the current release is the older one; the next push keeps it as "previous".
    await rollback(cluster.config, { to: ids[2] });
    await writeFile(join(site, 'index.html'), 'v5');
    const fifth = await push(cluster.config, {
      content: site,
      keep: 1,
      now: new Date('2026-01-01T00:00:05Z'),
    });
    expect(fifth.nodes[0]?.pruned).toEqual([ids[3]]);
    expect((await readdir(join(cluster.roots.au ?? '', 'releases'))).sort()).toEqual([
      ids[2],
      fifth.release,
    ]);
    expect(await readFile(join(cluster.roots.au ?? '', 'current', 'index.html'), 'utf8')).toBe(
      'v5',
    );
  });

  it.each(['content-mtime', 'checksum'] as const)(
    'sends nothing after every file is touched (detect: %s)',
    async (detect) => {
      const cluster = await startCluster({ transport: 'local', origins: false });
      const site = await makeSite({ 'index.html': 'v1', 'a/b.css': 'b', 'a/c.js': 'c' });
      const first = await push(cluster.config, { content: site, detect, confirmTimeoutMs: 100 });
      await writeFile(join(site, 'index.html'), 'v2');
      const later = new Date(Date.now() + 60_000);
      for (const name of ['index.html', 'a/b.css', 'a/c.js'])
        await utimes(join(site, name), later, later);
      const second = await push(cluster.config, { content: site, detect, confirmTimeoutMs: 100 });
      expect(second.nodes.map((n) => n.filesTransferred)).toEqual([1, 1, 1]);
      const root = cluster.roots.au ?? '';
      const [a, b] = await Promise.all([
        stat(join(root, 'releases', first.release, 'a/c.js')),
        stat(join(root, 'current/a/c.js')),
      ]);
      expect(b.ino).toBe(a.ino);
    },
  );

  it('--dry-run lists the changes per node and touches nothing', async () => {
    const cluster = await startCluster({
      transport: 'local',
      origins: false,
      exclude: ['*.map', '/drafts/'],
    });
    const site = await makeSite({
      'index.html': 'v1',
      'a.css': 'a',
      'a.css.map': '{}',
      'drafts/x.html': 'x',
      'blog/drafts/y.html': 'y',
    });
    const first = await push(cluster.config, { content: site, confirmTimeoutMs: 100 });
    expect(first.nodes.map((n) => n.confirmation)).toEqual(['no-origin', 'no-origin', 'no-origin']);
    expect(first.ok).toBe(true);
    // sync.exclude applies as rsync patterns: *.map anywhere, /drafts/ only at the top.
    expect((await readdir(join(cluster.roots.us ?? '', 'current'))).sort()).toEqual([
      'a.css',
      'blog',
      'index.html',
    ]);
    expect(first.files).toBe(3);
    await writeFile(join(site, 'index.html'), 'v2');
    const snapshot = async () =>
      Promise.all(
        NODE_NAMES.map(async (n) => [
          await currentOf(cluster.roots[n] ?? ''),
          (await readdir(join(cluster.roots[n] ?? '', 'releases'))).sort(),
        ]),
      );
    const before = await snapshot();
    const dry = await push(cluster.config, { content: site, dryRun: true });
    expect(dry).toMatchObject({ ok: true, dryRun: true });
    for (const node of dry.nodes) {
      expect(node.changes).toHaveLength(1);
      expect(node.changes[0]).toMatch(/^>f\S* index\.html$/);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('sends a reused tree only what changed since its release; --full compares every file', async () => {
    const cluster = await startCluster({ keep: 2, origins: false });
    // Scratch and control directories go here, to be checked for leftovers at the end.
    const scratch = await makeTempDir('owncdn-tmpdir-');
    const tmpdirBefore = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
    onTestFinished(() => {
      if (tmpdirBefore === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpdirBefore;
    });
    const site = await makeSite({
      'index.html': 'v1',
      'keep.css': 'same',
      'gone.txt': 'bye',
      'old dir/a.txt': 'a',
      'old dir/sub/b.txt': 'b',
      'was-file': 'file',
      'was-dir/c.txt': 'c',
      'ünï code/x y.txt': 'xy',
    });
    await symlink('index.html', join(site, 'link'));
    const at = (second: number) => pushAt(site, second);
    const first = await push(cluster.config, at(1));
    await writeFile(join(site, 'index.html'), 'v2');
    const second = await push(cluster.config, at(2));
    // A copy of the first tree, sent the first release's differences only.
    expect(second.nodes.map((n) => [n.upload, n.filesTransferred])).toEqual(
      [0, 1, 2].map(() => ['delta', 1]),
    );
    const root = cluster.roots.au ?? '';
    const kept = await stat(join(root, 'releases', first.release, 'keep.css'));
    expect((await stat(join(root, 'releases', second.release, 'keep.css'))).ino).toBe(kept.ino);
    expect(await readFile(join(root, 'releases', first.release, 'index.html'), 'utf8')).toBe('v1');
    expect(await treeOf(join(root, 'current'))).toEqual(await treeOf(site));

    // Against the first release (whose tree this push reuses): every kind of change.
    await writeFile(join(site, 'index.html'), 'v3');
    await rm(join(site, 'gone.txt'));
    await rm(join(site, 'old dir'), { recursive: true });
    await rm(join(site, 'was-file'));
    await mkdir(join(site, 'was-file'));
    await writeFile(join(site, 'was-file', 'inner.txt'), 'inner');
    await rm(join(site, 'was-dir'), { recursive: true });
    await writeFile(join(site, 'was-dir'), 'now a file');
    await rm(join(site, 'link'));
    await symlink('keep.css', join(site, 'link'));
    await mkdir(join(site, 'new', 'deep'), { recursive: true });
    await writeFile(join(site, 'new', 'deep', 'n.txt'), 'n');
    const third = await push(cluster.config, at(3));
    expect(third.error).toBeNull();
    expect(third.nodes.map((n) => [n.upload, n.filesTransferred, n.pruned])).toEqual(
      [0, 1, 2].map(() => ['delta', 4, [first.release]]),
    );
    const want = await treeOf(site);
    for (const name of NODE_NAMES) {
      const node = cluster.roots[name] ?? '';
      expect(await currentOf(node)).toBe(`releases/${third.release}`);
      expect(await treeOf(join(node, 'current'))).toEqual(want);
      // The second release, sharing unchanged files by hard link, is untouched.
      expect(await readFile(join(node, 'releases', second.release, 'index.html'), 'utf8')).toBe(
        'v2',
      );
      expect(await readFile(join(node, 'releases', second.release, 'was-file'), 'utf8')).toBe(
        'file',
      );
    }
    // An unchanged file stayed in place in the reused tree.
    expect((await stat(join(root, 'current', 'keep.css'))).ino).toBe(kept.ino);

    // A file of the second release edited by hand on au: a delta push would keep
    // it (the record says otherwise); --full compares every file and repairs it.
    await writeFile(join(root, 'releases', second.release, 'keep.css'), 'edited by hand');
    await writeFile(join(site, 'index.html'), 'v4');
    const fourth = await push(cluster.config, { ...at(4), full: true });
    expect(fourth.nodes.map((n) => n.upload)).toEqual(['full', 'full', 'full']);
    expect(await treeOf(join(root, 'current'))).toEqual(await treeOf(site));

    // Without a record of the release being replaced (published from elsewhere), every file is compared.
    await writeFile(join(site, 'index.html'), 'v5');
    const fifth = await push(cluster.config, {
      ...at(5),
      digestCache: join(site, '..', 'other.json'),
    });
    expect(fifth.nodes.map((n) => n.upload)).toEqual(['full', 'full', 'full']);
    expect(await treeOf(join(root, 'current'))).toEqual(await treeOf(site));
    // Five pushes to three nodes (links and switches prepared concurrently) left nothing behind.
    expect((await readdir(scratch)).filter((n) => !n.startsWith('owncdn-site-'))).toEqual([]);
  });

  it('keeps no record of a release whose files changed while they were uploaded', async () => {
    const cluster = await startCluster({ transport: 'local', keep: 2, origins: false });
    const site = await makeSite({ 'a.html': 'A', 'b.html': 'B' });
    const at = (second: number) => pushAt(site, second);
    // a.html is rewritten after it was hashed, before rsync reads it.
    let edited = false;
    const first = await push(cluster.config, {
      ...at(1),
      onEvent: (e) => {
        if (e.type === 'state' && e.state === 'uploading' && !edited) {
          edited = true;
          writeFileSync(join(site, 'a.html'), 'X');
        }
      },
    });
    expect(first.ok).toBe(true);
    const root = cluster.roots.au ?? '';
    expect(await readFile(join(root, 'releases', first.release, 'a.html'), 'utf8')).toBe('X');
    const record = join(`${at(1).digestCache}.manifests`, `${first.release.slice(-12)}.json`);
    expect(existsSync(record)).toBe(false);

    // a.html back as it was hashed: a delta against the first release's record
    // would leave X in its tree; without a record every file is compared.
    await writeFile(join(site, 'a.html'), 'A');
    await writeFile(join(site, 'b.html'), 'B2');
    await push(cluster.config, at(2));
    await writeFile(join(site, 'b.html'), 'B3');
    const third = await push(cluster.config, at(3));
    expect(third.nodes.map((n) => n.upload)).toEqual(['full', 'full', 'full']);
    expect(await readlink(join(root, 'releases', third.release))).toBe('../trees/1');
    expect(await treeOf(join(root, 'current'))).toEqual(['a.html: A', 'b.html: B3']);
  });

  it('orders two pushes within one second by when they were made, so rollback goes back to the first', async () => {
    const cluster = await startCluster({ transport: 'local', origins: false });
    const site = await makeSite({ 'index.html': 'a' });
    const now = new Date('2026-01-01T00:00:01.500Z');
    // Contents chosen so that the second release's hash (7aed…) sorts before the first's (bce7…).
    const first = await push(cluster.config, { content: site, now, confirmTimeoutMs: 100 });
    await writeFile(join(site, 'index.html'), 'b');
    const second = await push(cluster.config, { content: site, now, confirmTimeoutMs: 100 });
    expect(second.release > first.release).toBe(true);
    expect(second.release.startsWith('20260101T000002Z-')).toBe(true);
    expect(await rollback(cluster.config)).toMatchObject({ ok: true, release: first.release });
  });

  it('pushes to a node behind an rrsync forced command', async () => {
    const cluster = await startCluster({ transport: 'local', origins: false });
    const { startSshd } = await import('../../../test/support/sshd.js');
    const sshd = await startSshd({
      aliases: ['fr'],
      forcedCommand: `rrsync '${cluster.roots.fr}'`,
    });
    const config = cluster.withNodes({ fr: { ssh: 'fr', sshConfig: sshd.clientConfig } });
    const site = await makeSite({ 'index.html': 'v1', 'x y/é.txt': 'é' });
    // Ids sort by time to the second; two pushes within one second would sort by hash.
    const first = await push(config, {
      content: site,
      confirmTimeoutMs: 100,
      now: new Date('2026-01-01T00:00:01Z'),
    });
    expect(first.error).toBeNull();
    await writeFile(join(site, 'index.html'), 'v2');
    const second = await push(config, {
      content: site,
      confirmTimeoutMs: 100,
      now: new Date('2026-01-01T00:00:02Z'),
    });
    // The local nodes copy the first tree with hard links and send the change;
    // rrsync runs no cp, so rsync builds fr's tree with --link-dest.
    expect(second.nodes.map((n) => [n.node, n.filesTransferred, n.upload])).toEqual([
      ['au', 1, 'delta'],
      ['us', 1, 'delta'],
      ['fr', 1, 'full'],
    ]);
    const root = cluster.roots.fr ?? '';
    expect(await currentOf(root)).toBe(`releases/${second.release}`);
    const [a, b] = await Promise.all([
      stat(join(root, 'releases', first.release, 'x y/é.txt')),
      stat(join(root, 'current/x y/é.txt')),
    ]);
    expect(b.ino).toBe(a.ino);
    expect(await rollback(config)).toMatchObject({ ok: true, release: first.release });
    // Keeping two releases, the next push reuses the first one's tree and sends the differences only.
    await rm(join(site, 'x y'), { recursive: true });
    await writeFile(join(site, 'new.txt'), 'new');
    const third = await push(config, {
      content: site,
      keep: 2,
      confirmTimeoutMs: 100,
      now: new Date('2026-01-01T00:00:03Z'),
    });
    expect(third.error).toBeNull();
    expect(third.nodes.find((n) => n.node === 'fr')?.upload).toBe('delta');
    expect(await treeOf(join(root, 'current'))).toEqual(['index.html: v2', 'new.txt: new']);
  });
});
