/**
 * A node's one directory (DESIGN.md, "A node's directory"). Every package
 * that reads or writes a node names these paths from here, never by hand.
 *
 * <root>/
 *   trees/<n>/                     release contents; a tree no release names is a
 *                                  spare that the next push uploads into (recycled)
 *   releases/<id> -> ../trees/<n>  one link per complete release (its existence is
 *                                  the completion mark); older nodes: a directory
 *                                  plus a releases/<id>.complete marker
 *   current -> releases/<id>       switched atomically (rename of a symlink)
 *   certs/<name>/fullchain.pem     written by certd as a set: certs/<name> is a
 *   certs/<name>/privkey.pem       symlink to a versioned directory, flipped atomically
 *   acme-challenge/<token>         HTTP-01 key authorisations (per-token mode)
 *   acme-thumbprint                account key thumbprint (stateless HTTP-01 mode)
 */
export const NODE_LAYOUT = {
  releases: 'releases',
  trees: 'trees',
  current: 'current',
  certs: 'certs',
  fullchain: 'fullchain.pem',
  privkey: 'privkey.pem',
  acmeChallenge: 'acme-challenge',
  acmeThumbprint: 'acme-thumbprint',
} as const;

/** Header origin adds to every response so a client can tell which node answered. */
export const NODE_HEADER = 'x-owncdn-node';

/** RFC 8555 §8.3: a token is base64url; the path segment after /.well-known/acme-challenge/. */
export const ACME_TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,256}$/;

/** Path prefix of HTTP-01 challenges (RFC 8555 §8.3). */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
