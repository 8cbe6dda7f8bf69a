import { describe, expect, it } from 'vitest';
import { diagnose, failureError } from './failure.js';

// Messages as OpenSSH 9.2 and rsync 3.2–3.5 print them (LC_ALL=C). The ssh
// cases are also produced for real against the test sshd in test/transport.test.ts.
describe('diagnose', () => {
  it.each([
    [
      'rsync: [receiver] write failed on "/srv/x/releases/1/a.bin": No space left on device (28)',
      11,
      'OWNCDN_DISK_FULL',
    ],
    [
      'rsync: [receiver] mkstemp "/srv/x/releases/1/.a.bin.Xy12" failed: Permission denied (13)',
      23,
      'OWNCDN_PERMISSION_DENIED',
    ],
    [
      'rsync: [generator] recv_generator: mkdir "/srv/x/releases" failed: Read-only file system (30)',
      23,
      'OWNCDN_PERMISSION_DENIED',
    ],
    [
      'bash: line 1: rsync: command not found\nrsync: connection unexpectedly closed (0 bytes received so far) [sender]',
      127,
      'OWNCDN_RSYNC_MISSING',
    ],
    ['sh: 1: rsync: not found', 127, 'OWNCDN_RSYNC_MISSING'],
    [
      '/usr/bin/rrsync error: Another instance of rrsync is already accessing this directory.',
      1,
      'OWNCDN_RSYNC_FAILED',
    ],
    [
      'ssh: Could not resolve hostname fr.example.org: Name or service not known',
      255,
      'OWNCDN_SSH_UNREACHABLE',
    ],
    ['ssh: connect to host 192.0.2.1 port 22: Connection timed out', 255, 'OWNCDN_SSH_UNREACHABLE'],
    ['rsync: [sender] some other failure (5)', 23, 'OWNCDN_RSYNC_FAILED'],
  ] as const)('%s → %s', (stderr, exitCode, code) => {
    expect(diagnose({ stderr, exitCode, program: 'rsync' }, 'deploy@fr').code).toBe(code);
  });

  it('words the message with the operation, the node and the fix', () => {
    const error = failureError(
      'upload to',
      'fr (deploy@fr)',
      {
        stderr: 'rsync: write failed on "x": No space left on device (28)',
        exitCode: 11,
        program: 'rsync',
      },
      'deploy@fr',
    );
    expect(error.message).toBe(
      'upload to fr (deploy@fr) failed: the disk is full; free space on the node (lower sync.keep to keep fewer releases)',
    );
    expect(error.retryable).toBe(false);
  });
});
