import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../test/support/tmp.js';
import { runCli } from './run-cli.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', '..', 'examples', 'owncdn.yaml');
const VERSION = (
  JSON.parse(await readFile(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

describe('owncdn', () => {
  it('prints its version', async () => {
    const result = await runCli(['--version']);
    expect(result).toMatchObject({ status: 0, stdout: `${VERSION}\n` });
  });

  it.each(['demo', 'check', 'origin', 'geodns', 'certd', 'sync'])(
    'has --help for %s',
    async (command) => {
      const result = await runCli([command, '--help']);
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`Usage: owncdn ${command}`);
    },
  );

  it('lists every subcommand in its help', async () => {
    const result = await runCli(['--help']);
    expect(result.status).toBe(0);
    for (const command of ['demo', 'check', 'origin', 'geodns', 'certd', 'sync'])
      expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('exits 2 on an unknown command or option', async () => {
    expect(await runCli(['bogus'])).toMatchObject({
      status: 2,
      stderr: expect.stringContaining("error: unknown command 'bogus'") as unknown,
    });
    expect(await runCli(['check', '--bogus'])).toMatchObject({
      status: 2,
      stderr: expect.stringContaining("error: unknown option '--bogus'") as unknown,
    });
  });
});

describe('owncdn check', () => {
  it('accepts the committed example and summarises it', async () => {
    const result = await runCli(['check', '-c', EXAMPLE]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(
      `${EXAMPLE}: ok (3 nodes, 2 names, continents: AF→fr AN→au* AS→au EU→fr NA→us OC→au SA→fr; * = default)\n`,
    );
  });

  it('reads ./owncdn.yaml by default', async () => {
    const dir = await makeTempDir();
    await copyFile(EXAMPLE, join(dir, 'owncdn.yaml'));
    const result = await runCli(['check'], { cwd: dir });
    expect(result).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/^\.\/owncdn\.yaml: ok \(3 nodes/) as unknown,
    });
  });

  it('prints every problem of a broken copy with its line and exits 1', async () => {
    const dir = await makeTempDir();
    const text = (await readFile(EXAMPLE, 'utf8'))
      .replace('continents: [EU, AF, SA]', 'continents: [EUR, AF, SA]')
      .replace('ipv4: 198.51.100.30', 'ipv4: 198.51.100.300')
      .replace('interval: 10s', 'interval: soon');
    await writeFile(join(dir, 'owncdn.yaml'), text);
    const result = await runCli(['check', '-c', 'owncdn.yaml'], { cwd: dir });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      [
        'owncdn.yaml:19 nodes[1].ipv4: "198.51.100.300" is not an IPv4 address (expected e.g. 203.0.113.10)',
        'owncdn.yaml:26 nodes[2].continents[0]: "EUR" is not a continent code (expected AF AN AS EU NA OC SA)',
        'owncdn.yaml:49 dns.health.interval: "soon" is not a duration (expected e.g. "10s": a number with ms, s, m, h or d)',
        '3 problems found; nothing was started.',
        '',
      ].join('\n'),
    );
  });

  it('says when the file is missing and exits 1', async () => {
    const dir = await makeTempDir();
    const result = await runCli(['check'], { cwd: dir });
    expect(result).toEqual({
      status: 1,
      stdout: '',
      stderr:
        'owncdn: ./owncdn.yaml: no such file (expected an owncdn.yaml; see examples/owncdn.yaml, or pass -c PATH)\n',
    });
  });

  it('rejects a file that is not YAML', async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, 'owncdn.yaml'), 'site: [\n  domain: x\n');
    const result = await runCli(['check'], { cwd: dir });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^\.\/owncdn\.yaml:3: not valid YAML: /);
  });
});
