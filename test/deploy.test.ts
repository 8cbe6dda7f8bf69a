import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from './support/tmp.js';

const ROOT = join(import.meta.dirname, '..');
const UNITS = join(ROOT, 'deploy', 'systemd');
const OWNCDN = join(ROOT, 'packages', 'cli', 'bin', 'owncdn.js');

describe('deploy/systemd units', () => {
  it('pass systemd-analyze verify with no warning', async () => {
    const files = (await readdir(UNITS)).filter((f) => f.endsWith('.service'));
    expect(files.sort()).toEqual([
      'owncdn-certd.service',
      'owncdn-geodns.service',
      'owncdn-origin@.service',
    ]);
    const dir = await makeTempDir();
    const paths: string[] = [];
    for (const file of files) {
      // verify checks that ExecStart exists: point it at this checkout's program.
      const text = (await readFile(join(UNITS, file), 'utf8')).replaceAll(
        '/usr/local/bin/owncdn',
        OWNCDN,
      );
      await writeFile(join(dir, file), text);
      paths.push(join(dir, file.replace('@.service', '@fr.service')));
      if (file.includes('@'))
        await writeFile(join(dir, file.replace('@.service', '@fr.service')), text);
    }
    const { stdout, stderr } = await promisify(execFile)('systemd-analyze', ['verify', ...paths], {
      env: { ...process.env, SYSTEMD_LOG_COLOR: '0' },
    });
    expect(stderr).toBe('');
    expect(stdout).toBe('');
  });

  it('harden every unit and give port-binding daemons only CAP_NET_BIND_SERVICE', async () => {
    for (const file of await readdir(UNITS)) {
      const text = await readFile(join(UNITS, file), 'utf8');
      expect(text).toMatch(/^Restart=on-failure$/m);
      expect(text).toMatch(/^NoNewPrivileges=yes$/m);
      expect(text).toMatch(/^ProtectSystem=strict$/m);
      expect(text).toMatch(/^User=owncdn/m);
      if (!file.includes('certd'))
        expect(text).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    }
  });
});
