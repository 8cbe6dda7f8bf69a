import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { onTestFinished } from 'vitest';

/** A fresh directory under the system temp dir, removed when the current test finishes. */
export async function makeTempDir(prefix = 'owncdn-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A directory tree from an object literal: `{ 'index.html': '<h1>hi</h1>', 'a/b.css': '…' }`. */
export type Tree = Readonly<Record<string, string | Uint8Array>>;

/** Writes `tree` under `dir` (creating directories) and returns `dir`. */
export async function writeTree(dir: string, tree: Tree): Promise<string> {
  for (const [name, content] of Object.entries(tree)) {
    const path = join(dir, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
  return dir;
}

/** A site directory in a fresh temp dir, removed after the test (`makeSite({ 'index.html': '…' })`). */
export async function makeSite(tree: Tree): Promise<string> {
  const dir = await makeTempDir('owncdn-site-');
  return writeTree(join(dir, 'site'), tree);
}
