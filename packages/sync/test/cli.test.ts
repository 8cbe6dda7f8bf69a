import { spawn } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSite } from '../../../test/support/tmp.js';
import { NODE_NAMES, startCluster } from './fixture.js';

/** The built `owncdn` program (the vitest global setup builds dist/ first). */
const OWNCDN_BIN = join(import.meta.dirname, '..', '..', 'cli', 'bin', 'owncdn.js');

function owncdn(
  args: readonly string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [OWNCDN_BIN, ...args, '--log-level', 'silent'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('owncdn sync', { timeout: 60_000 }, () => {
  it('push --json prints one result object; status --json reports a node that is down and exits 1', async () => {
    const cluster = await startCluster();
    const site = await makeSite({ 'index.html': 'v1' });
    const file = await cluster.writeConfigFile();

    const pushed = await owncdn(['sync', 'push', '-c', file, '--content', site, '--json']);
    expect(pushed.stderr).toBe('');
    expect(pushed.status).toBe(0);
    const result: unknown = JSON.parse(pushed.stdout);
    expect(result).toMatchObject({
      ok: true,
      dryRun: false,
      files: 1,
      error: null,
      nodes: NODE_NAMES.map((node) => ({ node, state: 'confirmed', confirmation: 'confirmed' })),
    });
    const release =
      typeof result === 'object' && result !== null && 'release' in result
        ? String(result.release)
        : '';
    for (const name of NODE_NAMES)
      expect(await readlink(join(cluster.roots[name] ?? '', 'current'))).toBe(
        `releases/${release}`,
      );

    const closed = await cluster.sshd!.writeClientConfig('closed_fr', {
      au: [],
      us: [],
      fr: ['Port 1'],
    });
    const broken = await cluster.writeConfigFile({ fr: { sshConfig: closed } });
    const down = await owncdn(['sync', 'status', '-c', broken, '--json']);
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(
      /^owncdn: connect to fr \(fr\) failed: host unreachable .*; check that the node is up and that sshd answers: `ssh fr true`\n$/,
    );
    expect(JSON.parse(down.stdout)).toMatchObject({
      ok: false,
      agree: true,
      release,
      nodes: [
        { node: 'au', reachable: true, current: release, origin: { reachable: true, release } },
        { node: 'us', reachable: true, current: release },
        { node: 'fr', reachable: false, current: null, error: { code: 'OWNCDN_SSH_UNREACHABLE' } },
      ],
    });
  });
});
