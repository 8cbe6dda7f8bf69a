import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSite } from '../../../test/support/tmp.js';
import { runCli } from '../../cli/test/run-cli.js';
import { NODE_NAMES, startCluster } from './fixture.js';

/** `owncdn …args` with logs silenced: stdout carries the result, stderr only errors. */
const owncdn = (args: readonly string[]) => runCli([...args, '--log-level', 'silent']);

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
