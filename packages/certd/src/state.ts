import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OwncdnError, writeFileAtomic } from '@owncdn/core';

/** What certd knows about one node's copy of a certificate. */
export interface NodeDeployState {
  /** Serial (hex, lower-case) the node was last verified to serve, or null. */
  readonly serial: string | null;
  /** Epoch ms of that verification. */
  readonly verifiedAt: number | null;
  /** Why the last deploy to this node failed; null after a success. */
  readonly error: string | null;
}

/** The certificate currently held (files under `certs/<name>/<serial>/` in the state dir). */
export interface IssuedCertificate {
  readonly serial: string;
  readonly names: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
  /** RFC 9773 certificate identifier (`base64url(AKI).base64url(serial)`), for ARI and `replaces`. */
  readonly certId: string;
  readonly issuedAt: number;
}

/** An order sent to the CA and not finished yet: a crash resumes it instead of ordering again. */
export interface InFlightOrder {
  readonly url: string;
  readonly startedAt: number;
  /** The key the CSR is (or will be) made from: `certs/<name>/pending-key.pem`. */
  readonly keyFile: string;
  /** The certificate it replaces (ARI `replaces`), if any. */
  readonly replaces: string | null;
}

export interface CertificateState {
  readonly current: IssuedCertificate | null;
  /** Epoch ms at which to renew (ARI window or lifetime rule), null before the first issuance. */
  readonly renewAt: number | null;
  /** Epoch ms before which the ARI window is not fetched again (Retry-After). */
  readonly ariCheckedUntil: number | null;
  readonly order: InFlightOrder | null;
  readonly nodes: Readonly<Record<string, NodeDeployState>>;
  /** Consecutive failed attempts to obtain a certificate (drives the backoff). */
  readonly failures: number;
  /** Epoch ms before which no new attempt is made (backoff or the CA's Retry-After). */
  readonly retryAt: number | null;
  readonly lastError: string | null;
}

export interface CertdState {
  readonly version: 1;
  readonly account: { readonly url: string; readonly directory: string } | null;
  readonly certificates: Readonly<Record<string, CertificateState>>;
}

export const STATE_FILE = 'state.json';
export const ACCOUNT_KEY_FILE = 'account.key';

/** A state for a certificate certd has not seen yet. */
export function emptyCertificateState(): CertificateState {
  return {
    current: null,
    renewAt: null,
    ariCheckedUntil: null,
    order: null,
    nodes: {},
    failures: 0,
    retryAt: null,
    lastError: null,
  };
}

/** Reads `<dir>/state.json`; an absent file is a fresh state. Throws OWNCDN_ACME_STATE_CORRUPT on a bad one. */
export async function readState(dir: string): Promise<CertdState> {
  const file = join(dir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return { version: 1, account: null, certificates: {} };
    throw error;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, 'not JSON', error);
  }
  return parseState(data, file);
}

/** Writes the state atomically (temporary file, fsync, rename), mode 0600. */
export async function writeState(dir: string, state: CertdState): Promise<void> {
  await writeFileAtomic(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, {
    mode: 0o600,
    mkdir: true,
  });
}

/** Validates parsed state.json; throws OWNCDN_ACME_STATE_CORRUPT naming the bad field. */
export function parseState(data: unknown, file: string): CertdState {
  const r = record(data, file, '');
  if (r.version !== 1) throw corrupt(file, `version is ${JSON.stringify(r.version)} (expected 1)`);
  let account: CertdState['account'] = null;
  if (r.account !== null && r.account !== undefined) {
    const a = record(r.account, file, 'account');
    account = {
      url: str(a.url, file, 'account.url'),
      directory: str(a.directory, file, 'account.directory'),
    };
  }
  const certificates: Record<string, CertificateState> = {};
  for (const [name, value] of Object.entries(record(r.certificates ?? {}, file, 'certificates'))) {
    certificates[name] = parseCertificateState(value, file, `certificates.${name}`);
  }
  return { version: 1, account, certificates };
}

function parseCertificateState(value: unknown, file: string, at: string): CertificateState {
  const c = record(value, file, at);
  let current: IssuedCertificate | null = null;
  if (c.current !== null && c.current !== undefined) {
    const x = record(c.current, file, `${at}.current`);
    current = {
      serial: str(x.serial, file, `${at}.current.serial`),
      names: strings(x.names, file, `${at}.current.names`),
      notBefore: num(x.notBefore, file, `${at}.current.notBefore`),
      notAfter: num(x.notAfter, file, `${at}.current.notAfter`),
      certId: str(x.certId, file, `${at}.current.certId`),
      issuedAt: num(x.issuedAt, file, `${at}.current.issuedAt`),
    };
  }
  let order: InFlightOrder | null = null;
  if (c.order !== null && c.order !== undefined) {
    const o = record(c.order, file, `${at}.order`);
    order = {
      url: str(o.url, file, `${at}.order.url`),
      startedAt: num(o.startedAt, file, `${at}.order.startedAt`),
      keyFile: str(o.keyFile, file, `${at}.order.keyFile`),
      replaces:
        o.replaces === null || o.replaces === undefined
          ? null
          : str(o.replaces, file, `${at}.order.replaces`),
    };
  }
  const nodes: Record<string, NodeDeployState> = {};
  for (const [node, v] of Object.entries(record(c.nodes ?? {}, file, `${at}.nodes`))) {
    const n = record(v, file, `${at}.nodes.${node}`);
    nodes[node] = {
      serial: nullableStr(n.serial, file, `${at}.nodes.${node}.serial`),
      verifiedAt: nullableNum(n.verifiedAt, file, `${at}.nodes.${node}.verifiedAt`),
      error: nullableStr(n.error, file, `${at}.nodes.${node}.error`),
    };
  }
  return {
    current,
    renewAt: nullableNum(c.renewAt, file, `${at}.renewAt`),
    ariCheckedUntil: nullableNum(c.ariCheckedUntil, file, `${at}.ariCheckedUntil`),
    order,
    nodes,
    failures: num(c.failures ?? 0, file, `${at}.failures`),
    retryAt: nullableNum(c.retryAt, file, `${at}.retryAt`),
    lastError: nullableStr(c.lastError, file, `${at}.lastError`),
  };
}

function record(value: unknown, file: string, at: string): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return { ...value };
  throw corrupt(file, `${at || 'the file'} is not an object`);
}

function str(value: unknown, file: string, at: string): string {
  if (typeof value === 'string') return value;
  throw corrupt(file, `${at} is not a string`);
}

function strings(value: unknown, file: string, at: string): string[] {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.map(String);
  throw corrupt(file, `${at} is not a list of strings`);
}

function num(value: unknown, file: string, at: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw corrupt(file, `${at} is not a number`);
}

function nullableStr(value: unknown, file: string, at: string): string | null {
  return value === null || value === undefined ? null : str(value, file, at);
}

function nullableNum(value: unknown, file: string, at: string): number | null {
  return value === null || value === undefined ? null : num(value, file, at);
}

function corrupt(file: string, what: string, cause?: unknown): OwncdnError {
  return new OwncdnError(
    'OWNCDN_ACME_STATE_CORRUPT',
    `certd state ${file} is unreadable: ${what} (move it aside to start over; the account key stays in account.key)`,
    { cause },
  );
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code;
}
