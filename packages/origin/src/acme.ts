import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ACME_TOKEN_PATTERN, NODE_LAYOUT } from '@owncdn/core/runtime';

/** A thumbprint is a base64url SHA-256 (RFC 7638): anything else in the file is not served. */
const THUMBPRINT_PATTERN = /^[A-Za-z0-9_-]{20,128}$/;

/**
 * The answer to an HTTP-01 challenge for `token` (RFC 8555 §8.3), or null
 * (404). Per-token mode: the content of `<root>/acme-challenge/<token>`.
 * Stateless mode: `<token>.<thumbprint>` from `<root>/acme-thumbprint`.
 * Both are read on every request: certd writes them just before the CA asks,
 * and challenges are rare.
 */
export async function answerChallenge(root: string, token: string): Promise<Buffer | null> {
  // The pattern has no `/`, `.` or `%`, so the token can only name a file inside acme-challenge/.
  if (!ACME_TOKEN_PATTERN.test(token)) return null;
  const perToken = await readIfPresent(join(root, NODE_LAYOUT.acmeChallenge, token));
  if (perToken !== null) return perToken;
  const thumbprint = (await readIfPresent(join(root, NODE_LAYOUT.acmeThumbprint)))
    ?.toString('utf8')
    .trim();
  if (thumbprint === undefined || !THUMBPRINT_PATTERN.test(thumbprint)) return null;
  return Buffer.from(`${token}.${thumbprint}`);
}

async function readIfPresent(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    const code =
      typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return null;
    throw error;
  }
}
