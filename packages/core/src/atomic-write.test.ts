import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { replaceSymlink, writeFileAtomic } from './atomic-write.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'owncdn-atomic-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('writeFileAtomic', () => {
  it('writes the whole file with the exact mode, whatever the umask, and leaves no temporary file', async () => {
    const dir = await tempDir();
    const key = join(dir, 'state', 'account.key');
    const previous = process.umask(0o000);
    try {
      await writeFileAtomic(key, 'secret', { mode: 0o600, mkdir: true });
    } finally {
      process.umask(previous);
    }
    expect(await readFile(key, 'utf8')).toBe('secret');
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'state'))).mode & 0o777).toBe(0o700);
    expect(await readdir(join(dir, 'state'))).toEqual(['account.key']);
  });

  it('replaces an existing file in one step', async () => {
    const dir = await tempDir();
    const file = join(dir, 'state.json');
    await writeFile(file, 'old');
    const before = (await stat(file)).ino;
    await writeFileAtomic(file, 'new');
    expect(await readFile(file, 'utf8')).toBe('new');
    expect((await stat(file)).ino).not.toBe(before);
  });

  it('leaves the old file and no temporary file when the directory is missing', async () => {
    const dir = await tempDir();
    await expect(writeFileAtomic(join(dir, 'missing', 'x'), 'data')).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('replaceSymlink', () => {
  it('points a link at a new target, replacing the old link', async () => {
    const dir = await tempDir();
    const link = join(dir, 'current');
    await replaceSymlink(link, 'releases/a');
    await replaceSymlink(link, 'releases/b');
    expect(await readlink(link)).toBe('releases/b');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readdir(dir)).toEqual(['current']);
  });
});
