import { OwncdnError } from '../errors.js';
import type { ErrorCode } from '../errors.js';

/** What a finished ssh or rsync process left behind, for classifying its failure. */
export interface ProcessOutcome {
  readonly exitCode: number | undefined;
  readonly stderr: string;
  /** The program that ran (`ssh` or `rsync`). */
  readonly program: string;
}

interface Diagnosis {
  readonly code: ErrorCode;
  readonly what: string;
  readonly fix: string;
  readonly retryable?: boolean;
}

/** The last meaningful stderr line, for the message (rsync's own trailer lines are noise). */
function lastLine(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(
      (l) =>
        l !== '' &&
        !/^rsync error: .*\(code \d+\) at /.test(l) &&
        !l.startsWith('rsync: connection unexpectedly closed'),
    );
  return lines.at(-1) ?? stderr.trim().split('\n').at(-1) ?? '';
}

/**
 * Reads ssh's and rsync's stderr and exit status and names the problem and its
 * fix. The patterns are OpenSSH's and rsync's own English messages (processes
 * run with LC_ALL=C so they stay English).
 */
export function diagnose(outcome: ProcessOutcome, target: string): Diagnosis {
  const { stderr, exitCode } = outcome;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/.test(stderr)) {
    return {
      code: 'OWNCDN_SSH_HOST_KEY_CHANGED',
      what: 'the host key changed since it was recorded in known_hosts',
      fix: `if the node was reinstalled, remove the old key with \`ssh-keygen -R ${target}\` and connect once to accept the new one; otherwise someone may be intercepting the connection`,
    };
  }
  if (/No \S+ host key is known for|Host key verification failed/.test(stderr)) {
    return {
      code: 'OWNCDN_SSH_HOST_KEY_UNKNOWN',
      what: 'the host key is not in known_hosts',
      fix: `connect once with \`ssh ${target}\` and check the fingerprint, or add the node's key to known_hosts`,
    };
  }
  if (
    /Permission denied \((publickey|password|keyboard-interactive|gssapi)/.test(stderr) ||
    /Too many authentication failures/.test(stderr)
  ) {
    return {
      code: 'OWNCDN_SSH_AUTH_FAILED',
      what: 'the node refused the key',
      fix: "add your public key to the deploy user's authorized_keys on the node, or load it into ssh-agent",
    };
  }
  if (
    /Could not resolve hostname|Connection refused|Connection timed out|No route to host|Network is unreachable|Operation timed out|Connection reset by peer|Connection closed by .* port \d+|kex_exchange_identification|banner exchange/.test(
      stderr,
    )
  ) {
    return {
      code: 'OWNCDN_SSH_UNREACHABLE',
      what: `host unreachable (${lastLine(stderr)})`,
      fix: `check that the node is up and that sshd answers: \`ssh ${target} true\``,
      retryable: true,
    };
  }
  if (
    exitCode === 127 ||
    /rsync: (command )?not found|rsync: No such file or directory|remote command not found/.test(
      stderr,
    )
  ) {
    return {
      code: 'OWNCDN_RSYNC_MISSING',
      what: 'rsync is not installed on the node',
      fix: 'install it there (`apt-get install rsync`)',
    };
  }
  if (/No space left on device|Disk quota exceeded/.test(stderr)) {
    return {
      code: 'OWNCDN_DISK_FULL',
      what: 'the disk is full',
      fix: 'free space on the node (lower sync.keep to keep fewer releases)',
    };
  }
  if (/Permission denied \(13\)|Operation not permitted \(1\)|Read-only file system/.test(stderr)) {
    return {
      code: 'OWNCDN_PERMISSION_DENIED',
      what: `permission denied (${lastLine(stderr)})`,
      fix: "make the node's root directory writable by the ssh user (chown -R it to that user)",
    };
  }
  if (/Another instance of rrsync is already accessing this directory/.test(stderr)) {
    return {
      code: 'OWNCDN_RSYNC_FAILED',
      what: 'another rsync (certd or a second push) is using the node right now',
      fix: 'try again in a moment',
      retryable: true,
    };
  }
  if (outcome.program === 'ssh' && exitCode === 255) {
    return {
      code: 'OWNCDN_SSH_FAILED',
      what: `ssh failed (${lastLine(stderr)})`,
      fix: `try \`ssh -v ${target} true\``,
      retryable: true,
    };
  }
  if (outcome.program === 'rsync') {
    return {
      code: 'OWNCDN_RSYNC_FAILED',
      what: `rsync exited with ${String(exitCode)} (${lastLine(stderr)})`,
      fix: 'run again with --log-level debug to see the rsync command',
      retryable: exitCode === 30 || exitCode === 35 || exitCode === 12,
    };
  }
  return {
    code: 'OWNCDN_REMOTE_COMMAND_FAILED',
    what: `the command exited with ${String(exitCode)} (${lastLine(stderr)})`,
    fix: 'see the output above',
  };
}

/**
 * The one-line error for a failed operation on a node:
 * `upload to fr (deploy@fr.example.org) failed: the node refused the key; add …`; `operation` is e.g. `upload to`.
 */
export function failureError(
  operation: string,
  label: string,
  outcome: ProcessOutcome,
  target: string,
  cause?: unknown,
): OwncdnError {
  const d = diagnose(outcome, target);
  return new OwncdnError(d.code, `${operation} ${label} failed: ${d.what}; ${d.fix}`, {
    cause,
    retryable: d.retryable ?? false,
  });
}
