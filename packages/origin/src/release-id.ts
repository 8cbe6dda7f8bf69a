import { readlink } from 'node:fs/promises';
import { basename } from 'node:path';

/**
 * The release id a node serves: the name `current` links to (`releases/<id>`,
 * itself a link to the tree `trees/<n>` holding the files; DESIGN.md), or,
 * for a `current` that is not a link, the name of the directory it resolves to.
 */
export async function releaseId(currentPath: string, realDir: string): Promise<string> {
  const target = await readlink(currentPath).catch(() => null);
  return target === null ? basename(realDir) : basename(target.replace(/\/+$/, ''));
}
