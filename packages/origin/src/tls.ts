import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { NODE_LAYOUT } from '@owncdn/core/runtime';
import type { Logger } from '@owncdn/core';

/** A certificate origin serves, as read from `<root>/certs/<name>/`. */
export interface Certificate {
  readonly name: string;
  /** DNS names from the subjectAltName, lower-case (wildcards as `*.example.org`). */
  readonly names: readonly string[];
  readonly notAfter: string;
  /** Serial number, upper-case hex. */
  readonly serial: string;
  /** Real directory the files were read from: a change of it means certd replaced them. */
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly context: SecureContext;
}

/**
 * Reads every `certs/<name>/{fullchain,privkey}.pem`. A name that is a
 * symlink (certd's versioned directories) is read through it, and the
 * directories such links point to are not loaded again under their own
 * name. A set that does not parse, or whose key does not match, is skipped
 * with a warning and its previous version (if any) kept. The result is in
 * `order` (config order), then by name; the first is the default.
 */
export async function loadCertificates(
  certsDir: string,
  order: readonly string[],
  previous: readonly Certificate[],
  log: Logger,
): Promise<Certificate[]> {
  let dirents;
  try {
    dirents = await readdir(certsDir, { withFileTypes: true });
  } catch (error) {
    if (isCode(error, 'ENOENT')) return [];
    throw error;
  }
  const targets = new Map<string, string>();
  for (const dirent of dirents) {
    if (dirent.name.startsWith('.')) continue;
    if (!dirent.isSymbolicLink() && !dirent.isDirectory()) continue;
    try {
      targets.set(dirent.name, await realpath(join(certsDir, dirent.name)));
    } catch (error) {
      log.warn({ name: dirent.name, err: error }, 'certificate link is dangling: skipped');
    }
  }
  const linked = new Set<string>();
  for (const dirent of dirents)
    if (dirent.isSymbolicLink()) linked.add(targets.get(dirent.name) ?? '');
  const out: Certificate[] = [];
  for (const [name, dir] of targets) {
    if (linked.has(dir) && !dirents.some((d) => d.name === name && d.isSymbolicLink())) continue;
    const before = previous.find((c) => c.name === name);
    if (before && before.dir === dir) {
      out.push(before);
      continue;
    }
    try {
      out.push(await readCertificate(name, dir));
    } catch (error) {
      log.warn(
        { name, dir, err: error },
        before ? 'certificate unusable: keeping the previous one' : 'certificate unusable: skipped',
      );
      if (before) out.push(before);
    }
  }
  const rank = (name: string): number => {
    const index = order.indexOf(name);
    return index === -1 ? order.length : index;
  };
  return out.sort(
    (a, b) => rank(a.name) - rank(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

async function readCertificate(name: string, dir: string): Promise<Certificate> {
  const [cert, key] = await Promise.all([
    readFile(join(dir, NODE_LAYOUT.fullchain), 'utf8'),
    readFile(join(dir, NODE_LAYOUT.privkey), 'utf8'),
  ]);
  const x509 = new X509Certificate(cert);
  if (!x509.checkPrivateKey(createPrivateKey(key)))
    throw new Error(`${NODE_LAYOUT.privkey} does not match ${NODE_LAYOUT.fullchain}`);
  const names = (x509.subjectAltName ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith('DNS:'))
    .map((part) => part.slice(4).toLowerCase());
  return {
    name,
    names,
    notAfter: new Date(x509.validTo).toISOString(),
    serial: x509.serialNumber.toUpperCase(),
    dir,
    cert,
    key,
    context: createSecureContext({ cert, key }),
  };
}

/** RFC 6125 §6.4.3: a `*.` name matches exactly one more label on the left. */
function matchesName(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && host.indexOf('.') === host.length - suffix.length;
}

/** The certificate for a TLS server name (SNI), or the default (first) one. */
export function pickCertificate(
  certificates: readonly Certificate[],
  servername: string,
): Certificate | undefined {
  const host = servername.toLowerCase();
  for (const certificate of certificates)
    if (certificate.names.some((n) => n === host)) return certificate;
  for (const certificate of certificates)
    if (certificate.names.some((n) => matchesName(n, host))) return certificate;
  return certificates[0];
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code;
}
