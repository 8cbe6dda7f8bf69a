import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../../test/support/tmp.js';
import { cipherPreference, hasAesInstructions } from './ciphers.js';

const PREFERRED = 'Ciphers=aes128-gcm@openssh.com,aes256-gcm@openssh.com,';

/** An ssh_config file with these lines, and the arguments that make ssh read it. */
async function sshConfig(lines: readonly string[]): Promise<string[]> {
  const file = join(await makeTempDir('owncdn-ciphers-'), 'ssh_config');
  await writeFile(file, `${lines.join('\n')}\n`);
  return ['-F', file];
}

describe('hasAesInstructions', () => {
  it('reads x86 flags and ARM features', () => {
    expect(hasAesInstructions('flags\t\t: fpu vme sse2 aes avx2 sha_ni\n')).toBe(true);
    expect(hasAesInstructions('Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n')).toBe(
      true,
    );
    expect(hasAesInstructions('flags\t\t: fpu vme sse2 avx2\n')).toBe(false);
    expect(hasAesInstructions('Features\t: fp asimd evtstrm crc32 cpuid\n')).toBe(false);
    expect(hasAesInstructions('model name\t: aes-less CPU\n')).toBe(false);
  });
});

describe.skipIf(!hasAesInstructions())('cipherPreference', () => {
  it('puts AES-GCM first when the configuration leaves ciphers to ssh, keeping every default', async () => {
    const args = await sshConfig([
      'Host node',
      '  HostName 127.0.0.1',
      'Host other',
      '  Ciphers aes256-ctr',
    ]);
    const preference = await cipherPreference(args, 'node', []);
    expect(preference).toMatch(new RegExp(`^${PREFERRED}`));
    expect(preference?.split(',')).toContain('chacha20-poly1305@openssh.com');
  });

  it('leaves ciphers alone when the ssh configuration or owncdn.yaml chooses them', async () => {
    const chosen = await sshConfig(['Host node', '  Ciphers chacha20-poly1305@openssh.com']);
    expect(await cipherPreference(chosen, 'node', [])).toBeNull();
    const everywhere = await sshConfig(['Ciphers ^aes256-ctr']);
    expect(await cipherPreference(everywhere, 'node', [])).toBeNull();
    const plain = await sshConfig([]);
    expect(await cipherPreference(plain, 'node', ['Ciphers=aes256-ctr'])).toBeNull();
    expect(
      await cipherPreference(plain, 'node', ['ciphers chacha20-poly1305@openssh.com']),
    ).toBeNull();
    expect(await cipherPreference(plain, 'node', ['Compression=no'])).toMatch(
      new RegExp(`^${PREFERRED}`),
    );
  });
});
