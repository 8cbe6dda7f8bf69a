import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { writeTree } from '../../../test/support/tmp.js';
import { createRecordingLogger, makeNodeRoot, nodeConfig, serveNode } from './helpers.js';

/** Makes `<root>/<link>` point at `target` the way sync does: a new symlink renamed over the old one. */
async function relink(root: string, link: string, target: string): Promise<void> {
  const tmp = join(root, `.${link.replaceAll('/', '_')}.tmp`);
  await symlink(target, tmp);
  await rename(tmp, join(root, link));
}

describe('releases in trees (the layout sync writes)', () => {
  it('names the release by the current link and reloads when a reused tree holds a new one', async () => {
    const node = await makeNodeRoot();
    const log = createRecordingLogger();
    await writeTree(join(node.root, 'trees', '1'), { 'index.html': 'first' });
    await relink(node.root, 'releases/20260101T000001Z-aaaaaaaaaaaa', '../trees/1');
    await relink(node.root, 'current', 'releases/20260101T000001Z-aaaaaaaaaaaa');
    const { http } = await serveNode(nodeConfig(node.root), {}, log);
    const health = async () => (await (await request(`${http}/healthz`)).body.json()) as object;
    const page = async () => (await request(`${http}/`)).body.text();
    expect(await health()).toMatchObject({ release: '20260101T000001Z-aaaaaaaaaaaa' });
    expect(await page()).toBe('first');

    // Another release in tree 2, then back to tree 1 holding new content under a new id:
    // the same real directory as before, so only the id tells origin it must reload.
    await mkdir(join(node.root, 'trees', '2'));
    await writeFile(join(node.root, 'trees', '2', 'index.html'), 'second');
    await relink(node.root, 'releases/20260101T000002Z-bbbbbbbbbbbb', '../trees/2');
    let seen = log.records.length;
    await relink(node.root, 'current', 'releases/20260101T000002Z-bbbbbbbbbbbb');
    await log.waitFor('release activated', () => true, seen);
    expect(await page()).toBe('second');

    // Right after the previous switch: chokidar may report this one late or not at all
    // (it did, before origin also read the link every second).
    await writeFile(join(node.root, 'trees', '1', 'index.html'), 'third');
    await relink(node.root, 'releases/20260101T000003Z-cccccccccccc', '../trees/1');
    seen = log.records.length;
    await relink(node.root, 'current', 'releases/20260101T000003Z-cccccccccccc');
    await log.waitFor('release activated', () => true, seen);
    expect(await health()).toMatchObject({ release: '20260101T000003Z-cccccccccccc' });
    expect(await page()).toBe('third');
  });
});
