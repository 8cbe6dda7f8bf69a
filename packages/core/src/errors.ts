/**
 * Every error owncdn raises on purpose is an OwncdnError with a stable code.
 * Callers branch on `code`, never on message text. docs/errors.md lists them.
 */
export const ERROR_CODES = [
  'OWNCDN_CONFIG_NOT_FOUND',
  'OWNCDN_CONFIG_UNREADABLE',
  'OWNCDN_CONFIG_INVALID',
  'OWNCDN_USAGE',
  'OWNCDN_NODE_UNKNOWN',
  'OWNCDN_SSH_UNREACHABLE',
  'OWNCDN_SSH_AUTH_FAILED',
  'OWNCDN_SSH_HOST_KEY_CHANGED',
  'OWNCDN_SSH_HOST_KEY_UNKNOWN',
  'OWNCDN_SSH_FAILED',
  'OWNCDN_RSYNC_MISSING',
  'OWNCDN_RSYNC_FAILED',
  'OWNCDN_REMOTE_COMMAND_FAILED',
  'OWNCDN_DISK_FULL',
  'OWNCDN_PERMISSION_DENIED',
  'OWNCDN_PATH_UNSAFE',
  'OWNCDN_ORIGIN_LISTEN_FAILED',
  'OWNCDN_ORIGIN_NO_RELEASE',
  'OWNCDN_DNS_LISTEN_FAILED',
  'OWNCDN_DNS_GEOIP_INVALID',
  'OWNCDN_DNS_API_FAILED',
  'OWNCDN_ACME_FAILED',
  'OWNCDN_ACME_RATE_LIMITED',
  'OWNCDN_ACME_UNREACHABLE',
  'OWNCDN_ACME_CHALLENGE_FAILED',
  'OWNCDN_ACME_STATE_CORRUPT',
  'OWNCDN_CERT_DEPLOY_FAILED',
  'OWNCDN_SYNC_PUSH_FAILED',
  'OWNCDN_SYNC_NOTHING_TO_ROLL_BACK',
  'OWNCDN_SYNC_RELEASE_UNKNOWN',
  'OWNCDN_SYNC_NOT_CONFIRMED',
  'OWNCDN_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class OwncdnError extends Error {
  readonly code: ErrorCode;
  /** True when trying the same operation again later may succeed (network, CA busy). */
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, opts: ErrorOptions & { retryable?: boolean } = {}) {
    super(message, opts);
    this.name = new.target.name;
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

/** One problem found in owncdn.yaml, with the line it is on (0 when unknown). */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  /** Dotted path with indices, e.g. `nodes[1].continents[0]`; empty for the whole file. */
  readonly path: string;
  readonly message: string;
}

/** Formats an issue the way every owncdn command prints it: `owncdn.yaml:14 nodes[1].name: …`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}` : issue.file;
  return issue.path ? `${where} ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** A config that failed validation; `issues` holds every problem found, not just the first. */
export class ConfigError extends OwncdnError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], opts: ErrorOptions = {}) {
    super('OWNCDN_CONFIG_INVALID', issues.map(formatConfigIssue).join('\n'), opts);
    this.issues = issues;
  }
}

/** True for errors raised on purpose by owncdn (as opposed to bugs). */
export function isOwncdnError(error: unknown): error is OwncdnError {
  return error instanceof OwncdnError;
}
